"""What the webhook checks send and how they judge the answers (``smoke/test_webhooks.py``).

Each request goes to both routes the platform registers (CONTRACT.md §8): the runbook's
``/api/webhooks/stripe`` and ``/api/payments/webhook/stripe``; an alias that accepts what the
other refuses is as open as an unprotected route. A 503 is its own reason: the route exists
but the deployment has no Stripe key or webhook secret, which fails the item.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from promorang_gate.webhooks.signing import event_bytes, ping_event, signature_header

__all__ = [
    "ROUTES",
    "WebhookCheckFailed",
    "WebhookNotConfigured",
    "WebhookProbe",
    "assert_accepted",
    "assert_refused",
]

ROUTES = ("/api/webhooks/stripe", "/api/payments/webhook/stripe")


class WebhookCheckFailed(AssertionError):
    """The webhook answered what runbook section 7 rules out."""


class WebhookNotConfigured(WebhookCheckFailed):
    """The route answers 503: the deployment lacks its Stripe key or webhook secret."""


def _described(answer: httpx.Response) -> str:
    text = answer.text.strip().replace("\n", " ")
    return f"{answer.status_code} {text[:160]!r}"


def _not_configured(answer: httpx.Response, route: str) -> None:
    if answer.status_code == 503:
        raise WebhookNotConfigured(
            f"webhook not configured on this deployment: POST {route} answered"
            f" {_described(answer)} (STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET missing)"
        )


def _acknowledged(answer: httpx.Response) -> bool:
    try:
        body = answer.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("received") is True


def assert_refused(answer: httpx.Response, route: str, what: str) -> None:
    """400, and a body that does not acknowledge the event."""
    __tracebackhide__ = True
    _not_configured(answer, route)
    if answer.status_code != 400:
        raise WebhookCheckFailed(
            f"POST {route} with {what} answered {_described(answer)}, expected 400"
        )
    if _acknowledged(answer):
        raise WebhookCheckFailed(f"POST {route} with {what} answered 400 but acknowledged it")


def assert_accepted(answer: httpx.Response, route: str, what: str) -> None:
    """2xx and ``{"received": true}``."""
    __tracebackhide__ = True
    _not_configured(answer, route)
    if not 200 <= answer.status_code < 300:
        raise WebhookCheckFailed(
            f"POST {route} with {what} answered {_described(answer)}, expected 2xx"
        )
    if not _acknowledged(answer):
        raise WebhookCheckFailed(
            f'POST {route} with {what} answered {_described(answer)}, not {{"received": true}}'
        )


@dataclass(frozen=True)
class WebhookProbe:
    """Sends the run's ping event (tagged with the run id) through ``api`` (a ``GateHttp``)."""

    api: Any
    run_id: str

    def event(self, *, compact: bool = False) -> bytes:
        event = ping_event(self.run_id)
        if compact:
            return json.dumps(event, separators=(",", ":")).encode()
        return event_bytes(event)

    def post(self, route: str, body: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        response: httpx.Response = self.api.post(route, content=body, headers=headers)
        return response

    def each_route(self) -> Iterator[str]:
        yield from ROUTES

    def unsigned(self) -> Iterator[tuple[str, bytes, str | None]]:
        """Requests that carry no valid ``v1`` signature of any secret."""
        body = self.event()
        now = int(time.time())
        yield "no Stripe-Signature header", body, None
        yield "an empty Stripe-Signature header", body, ""
        yield "a timestamp and no signature", body, f"t={now}"
        yield "a signature of another scheme (v0) only", body, f"t={now},v0={'0' * 64}"

    def signed(self, body: bytes, secret: str, *, age_s: int = 0) -> str:
        return signature_header(body, secret, int(time.time()) - age_s)
