"""Stripe's webhook signature scheme, exactly: ``Stripe-Signature: t=<unix>,v1=<hex>`` where
the hex is HMAC-SHA256 of ``"<t>.<payload>"`` under the endpoint's secret (``whsec_…``, used as
given). ``verify`` is what a receiver does (stripe-node's ``constructEvent``), with the default
tolerance of 300 s; the sandbox uses it, and the project's tests hold both sides against the
official ``stripe`` package."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from promorang_gate.cleanup.tags import tagged_title

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "PING_TYPE",
    "SignatureError",
    "event_bytes",
    "ping_event",
    "sign",
    "signature_header",
    "verify",
]

DEFAULT_TOLERANCE_S = 300
#: An event type no handler acts on: the platform only logs it (CONTRACT.md §8).
PING_TYPE = "promorang_gate.ping"


class SignatureError(ValueError):
    """A signature header that does not verify (the message is what a receiver would say)."""


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` signed at ``timestamp``."""
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` value for ``payload`` (now, unless ``timestamp`` is given)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={sign(payload, secret, stamp)}"


def _parse(header: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                stamp = int(value)
            except ValueError:
                raise SignatureError(
                    "Unable to extract timestamp and signatures from header"
                ) from None
        elif key == "v1":
            signatures.append(value)
    if stamp is None or not signatures:
        raise SignatureError("Unable to extract timestamp and signatures from header")
    return stamp, signatures


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_s: float | None = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless ``header`` signs exactly ``payload`` with ``secret``
    within ``tolerance_s`` of ``now`` (``None``: no tolerance, as a careless receiver)."""
    if not header:
        raise SignatureError("No stripe-signature header value was provided.")
    stamp, signatures = _parse(header)
    expected = sign(payload, secret, stamp)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError(
            "No signatures found matching the expected signature for payload."
            " Are you passing the raw request body you received from Stripe?"
        )
    current = time.time() if now is None else now
    if tolerance_s is not None and stamp < current - tolerance_s:
        raise SignatureError("Timestamp outside the tolerance zone")


def ping_event(run_id: str, created: int | None = None) -> dict[str, Any]:
    """A harmless event of a type the platform only logs, tagged with the run id."""
    stamp = int(time.time()) if created is None else created
    return {
        "id": f"evt_{run_id.replace('-', '_')}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": stamp,
        "type": PING_TYPE,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {
            "object": {"object": "promorang_gate_probe", "note": tagged_title("ping", run_id)}
        },
    }


def event_bytes(event: dict[str, Any]) -> bytes:
    """The event as Stripe sends it: pretty-printed JSON (two spaces), so that a receiver that
    re-serialises the parsed body signs different bytes."""
    return json.dumps(event, indent=2).encode()
