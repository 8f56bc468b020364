"""Stripe webhooks (Operations Runbook section 7): signing events as Stripe does, and deciding
where the webhook checks belong to an environment's gate."""

from __future__ import annotations

from promorang_gate.webhooks.signing import (
    DEFAULT_TOLERANCE_S,
    SignatureError,
    ping_event,
    sign,
    signature_header,
    verify,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SignatureError",
    "ping_event",
    "sign",
    "signature_header",
    "verify",
]
