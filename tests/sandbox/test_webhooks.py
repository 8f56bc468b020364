"""The sandbox's Stripe webhook answers as the platform's (CONTRACT.md §8), and accepts what the
official ``stripe`` package signs with the endpoint's secret."""

from __future__ import annotations

import json

import httpx
import pytest
import stripe

from promorang_sandbox import SandboxHandle
from promorang_sandbox.webhooks import WEBHOOK_PATHS

EVENT = json.dumps({"id": "evt_1", "object": "event", "type": "customer.created"}, indent=2)


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_a_stripe_signed_event_is_received(sandbox: SandboxHandle, path: str) -> None:
    header = stripe.WebhookSignature.generate_signature_header(
        EVENT, sandbox.state.stripe_webhook_secret
    )
    resp = httpx.post(
        sandbox.state.api_url + path,
        content=EVENT.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"received": True}


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_a_bad_signature_is_400_plain_text(sandbox: SandboxHandle, path: str) -> None:
    header = stripe.WebhookSignature.generate_signature_header(EVENT, "whsec_someone_else")
    resp = httpx.post(
        sandbox.state.api_url + path,
        content=EVENT.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text.startswith("Webhook Error: No signatures found matching")


def test_unconfigured_webhook_answers_503() -> None:
    import asyncio

    from promorang_sandbox.api import ApiConfig, create_api_app
    from promorang_sandbox.faults import FaultSet
    from promorang_sandbox.recorder import RequestRecorder

    config = ApiConfig(
        supabase_url="http://127.0.0.1:9",
        service_role_key="x" * 20,
        frontend_origin="http://127.0.0.1:9",
        admin_token="t" * 20,
        faults=FaultSet(),
        recorder=RequestRecorder(),
        stripe_env={"STRIPE_SECRET_KEY": "sk_test_x"},
    )
    app, api = create_api_app(config)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            answer = await client.post(WEBHOOK_PATHS[0], content=EVENT.encode())
        await api.aclose()
        return answer

    resp = asyncio.run(post())
    assert resp.status_code == 503
    assert resp.json() == {"status": "error", "message": "Stripe webhook not configured"}
