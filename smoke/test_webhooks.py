"""Webhook Handling (Operations Runbook section 7; CONTRACT.md §8): Stripe events are handled by
`/api/webhooks/stripe`, the signature validated with `STRIPE_WEBHOOK_SECRET`. Each check posts
the run's harmless `promorang_gate.ping` event, signed (or not) as its runbook line says, to both
routes the platform registers."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from _support import env_variable
from promorang_gate.webhooks.probe import WebhookProbe, assert_accepted, assert_refused
from promorang_gate.webhooks.signing import DEFAULT_TOLERANCE_S

pytestmark = pytest.mark.webhooks


@pytest.fixture
def webhook(gate_api: Any, gate_run_id: str) -> WebhookProbe:
    return WebhookProbe(gate_api, gate_run_id)


@pytest.fixture
def webhook_secret(gate_target: Any) -> str:
    """The endpoint's signing secret (``whsec_…``); without it the check is not verified."""
    if not gate_target.stripe_webhook_secret:
        variable = env_variable(gate_target.name, "stripe_webhook_secret")
        pytest.skip(f"no Stripe webhook secret for {gate_target.name}: set {variable}")
    return str(gate_target.stripe_webhook_secret)


@pytest.mark.checklist("webhooks.unsigned_refused")
def test_unsigned_event_is_refused(webhook: WebhookProbe) -> None:
    for route in webhook.each_route():
        for what, body, signature in webhook.unsigned():
            assert_refused(webhook.post(route, body, signature), route, what)


@pytest.mark.checklist("webhooks.wrong_secret_refused")
def test_event_signed_with_another_secret_is_refused(webhook: WebhookProbe) -> None:
    body = webhook.event()
    other = "whsec_" + secrets.token_hex(16)
    for route in webhook.each_route():
        answer = webhook.post(route, body, webhook.signed(body, other))
        assert_refused(answer, route, "an event signed with another secret")


@pytest.mark.checklist("webhooks.stale_timestamp_refused")
def test_stale_signature_is_refused(webhook: WebhookProbe, webhook_secret: str) -> None:
    body = webhook.event()
    age = DEFAULT_TOLERANCE_S + 60
    for route in webhook.each_route():
        answer = webhook.post(route, body, webhook.signed(body, webhook_secret, age_s=age))
        assert_refused(answer, route, f"an event signed {age} s ago")


@pytest.mark.checklist("webhooks.altered_body_refused")
def test_body_altered_after_signing_is_refused(webhook: WebhookProbe, webhook_secret: str) -> None:
    signed = webhook.event(compact=True)
    event = json.loads(signed)
    reformatted = json.dumps(event, indent=2).encode()  # the same event, other whitespace
    event["livemode"] = True
    changed = json.dumps(event, separators=(",", ":")).encode()
    for route in webhook.each_route():
        signature = webhook.signed(signed, webhook_secret)
        for what, body in (("re-serialised", reformatted), ("changed", changed)):
            answer = webhook.post(route, body, signature)
            assert_refused(answer, route, f"a body {what} after signing")


@pytest.mark.checklist("webhooks.signed_event_accepted")
def test_correctly_signed_event_is_accepted(webhook: WebhookProbe, webhook_secret: str) -> None:
    body = webhook.event()
    for route in webhook.each_route():
        answer = webhook.post(route, body, webhook.signed(body, webhook_secret))
        assert_accepted(answer, route, "the run's promorang_gate.ping signed with its secret")
