"""The gate signs Stripe events as Stripe does: the official ``stripe`` package verifies what
the gate signs, and the gate's verifier (the sandbox's) accepts what ``stripe`` signs."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from promorang_gate.webhooks import signing

SECRET = "whsec_gate_test_0123456789abcdef"


def _event() -> bytes:
    return signing.event_bytes(signing.ping_event("gr20261206t120000-abc123"))


def test_stripe_verifies_the_gates_signature() -> None:
    payload = _event()
    header = signing.signature_header(payload, SECRET)
    event = stripe.Webhook.construct_event(payload, header, SECRET)
    assert event["type"] == "promorang_gate.ping"
    assert event["data"]["object"]["note"].endswith("[gate gr20261206t120000-abc123]")


def test_the_header_has_stripes_shape() -> None:
    header = signing.signature_header(b"{}", SECRET, timestamp=1700000000)
    stamp, _, rest = header.partition(",")
    assert stamp == "t=1700000000"
    assert rest.startswith("v1=")
    assert len(rest) == 3 + 64
    assert header == stripe.WebhookSignature.generate_signature_header("{}", SECRET, 1700000000)


def test_the_gates_verifier_accepts_stripes_signature() -> None:
    payload = _event()
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), SECRET)
    signing.verify(payload, header, SECRET)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong secret", "No signatures found matching"),
        ("altered body", "No signatures found matching"),
        ("stale", "Timestamp outside the tolerance zone"),
        ("no header", "No stripe-signature header"),
        ("garbage header", "Unable to extract timestamp"),
    ],
)
def test_both_verifiers_refuse_the_same_requests(case: str, message: str) -> None:
    payload = _event()
    stamp = int(time.time()) - (301 if case == "stale" else 0)
    header: str | None = signing.signature_header(
        payload, "whsec_another_secret_entirely" if case == "wrong secret" else SECRET, stamp
    )
    if case == "altered body":
        payload = json.dumps(json.loads(payload)).encode()  # re-serialised: other whitespace
    header = {"no header": None, "garbage header": "v1=abc"}.get(case, header)
    with pytest.raises(signing.SignatureError, match=message):
        signing.verify(payload, header, SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, SECRET)


def test_without_tolerance_an_old_signature_passes() -> None:
    payload = _event()
    header = signing.signature_header(payload, SECRET, int(time.time()) - 86400)
    signing.verify(payload, header, SECRET, tolerance_s=None)
