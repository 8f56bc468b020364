"""The Stripe webhook as the platform serves it from b9bfeadcb on (CONTRACT.md §8):
``POST /api/webhooks/stripe`` and ``POST /api/payments/webhook/stripe``, the raw body verified
with stripe-node's ``constructEvent`` (HMAC-SHA256 over ``"<t>.<raw body>"``, 300 s tolerance).

503 ``{"status":"error","message":"Stripe webhook not configured"}`` without the Stripe key or
the webhook secret; 400 plain text ``Webhook Error: <message>`` on a bad signature; 200
``{"received":true}``. Events of other types than the two it acts on are only logged.

Faults: ``webhook_accepts_unsigned`` (no header, no check), ``webhook_wrong_secret_name`` (the
code reads ``WEBHOOK_SECRET_STRIPE``, which holds an old endpoint's secret, not the configured
``STRIPE_WEBHOOK_SECRET``: §6.19), ``webhook_parses_before_verifying`` (verifies the parsed and
re-serialised body), ``webhook_500_on_bad_signature``, ``webhook_no_timestamp_tolerance``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .api_common import guarded, json_response, read_body

if TYPE_CHECKING:
    from .api_state import ApiConfig

__all__ = ["WEBHOOK_PATHS", "stripe_variables", "webhook_routes"]

WEBHOOK_PATHS = ("/api/webhooks/stripe", "/api/payments/webhook/stripe")
TOLERANCE_S = 300
logger = logging.getLogger("promorang_sandbox.webhooks")


def stripe_variables(webhook_secret: str) -> dict[str, str]:
    """The backend's Stripe variables: the documented ``STRIPE_WEBHOOK_SECRET`` holds the
    endpoint's secret; ``WEBHOOK_SECRET_STRIPE`` still holds a retired endpoint's."""
    return {
        "STRIPE_SECRET_KEY": "sk_test_sandbox_" + secrets.token_hex(12),
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "WEBHOOK_SECRET_STRIPE": "whsec_retired_" + secrets.token_hex(12),
    }


class BadSignature(Exception):
    """stripe-node's StripeSignatureVerificationError (its message)."""


def construct_event(
    payload: bytes, header: str | None, secret: str, tolerance_s: float | None
) -> dict[str, object]:
    """What ``Stripe.webhooks.constructEvent`` does: verify, then parse."""
    if not header:
        raise BadSignature("No stripe-signature header value was provided.")
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    signatures = [v for k, v in parts if k.strip() == "v1"]
    if not stamps or not stamps[0].isdigit() or not signatures:
        raise BadSignature("Unable to extract timestamp and signatures from header")
    stamp = int(stamps[0])
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    if not any(hmac.compare_digest(expected.hexdigest(), s) for s in signatures):
        raise BadSignature(
            "No signatures found matching the expected signature for payload."
            " Are you passing the raw request body you received from Stripe?"
        )
    if tolerance_s is not None and stamp < time.time() - tolerance_s:
        raise BadSignature("Timestamp outside the tolerance zone")
    event = json.loads(payload)
    if not isinstance(event, dict):
        raise BadSignature("Unexpected event payload")
    return event


class StripeWebhook:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config

    def _secret(self) -> str | None:
        env = self.config.stripe_env
        if "webhook_wrong_secret_name" in self.config.faults:
            return env.get("WEBHOOK_SECRET_STRIPE")  # b9bfeadcb's name (§6.19)
        return env.get("STRIPE_WEBHOOK_SECRET") or env.get("WEBHOOK_SECRET_STRIPE")

    async def handle(self, request: Request) -> Response:
        faults, secret = self.config.faults, self._secret()
        if not self.config.stripe_env.get("STRIPE_SECRET_KEY") or not secret:
            body = {"status": "error", "message": "Stripe webhook not configured"}
            return json_response(503, body)
        payload = await read_body(request)
        header = request.headers.get("stripe-signature")
        try:
            if header is None and "webhook_accepts_unsigned" in faults:
                event = json.loads(payload or b"{}")
            else:
                if "webhook_parses_before_verifying" in faults:
                    # express.json() ran first: what is verified is JSON.stringify(req.body).
                    payload = _restringify(payload)
                tolerance = None if "webhook_no_timestamp_tolerance" in faults else TOLERANCE_S
                event = construct_event(payload, header, secret, tolerance)
        except (BadSignature, ValueError, UnicodeDecodeError) as exc:
            if "webhook_500_on_bad_signature" in faults:
                return PlainTextResponse("Webhook handler error", status_code=500)
            return PlainTextResponse(f"Webhook Error: {exc}", status_code=400)
        kind = event.get("type") if isinstance(event, dict) else None
        logger.info("stripe webhook: unhandled event type %s", kind)
        return json_response(200, {"received": True})


def _restringify(payload: bytes) -> bytes:
    try:
        return json.dumps(json.loads(payload), separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        return payload


def webhook_routes(config: ApiConfig) -> list[Route]:
    handler = guarded(StripeWebhook(config).handle)
    return [Route(path, handler, methods=["POST"]) for path in WEBHOOK_PATHS]
