"""The webhook checks against a deployment configured by variables (not the embedded sandbox):
without the webhook secret only the refusals that need none run; the promotion gate requires
the items only where the profile says the release serves the webhook; the secret never shows.
Against a receiver that is not ours (Stripe's documented verification) the checks pass, and
fail once it stops verifying."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from project_helpers import ENDPOINTS, env_at_sandbox

WEBHOOK_ITEMS = (
    "webhooks.unsigned_refused",
    "webhooks.wrong_secret_refused",
    "webhooks.stale_timestamp_refused",
    "webhooks.altered_body_refused",
    "webhooks.signed_event_accepted",
)
NEED_THE_SECRET = WEBHOOK_ITEMS[2:]


def _webhook_run(run_gate_inprocess: Any, env: dict[str, str]) -> Any:
    return run_gate_inprocess(
        ["smoke/test_webhooks.py", "--env", "staging", "--gate", "promotion"], env=env
    )


def test_without_the_secret_only_the_refusals_run(run_gate_inprocess: Any, sandbox: Any) -> None:
    env = {**env_at_sandbox(sandbox.state, "staging", *ENDPOINTS), "GATE_STAGING_WEBHOOKS": "1"}
    run = _webhook_run(run_gate_inprocess, env)
    items = run.items("staging")
    assert items["webhooks.unsigned_refused"]["status"] == "passed", run.output
    assert items["webhooks.wrong_secret_refused"]["status"] == "passed", run.output
    for item in NEED_THE_SECRET:
        assert items[item]["status"] == "not_verified", run.output
        assert "GATE_STAGING_STRIPE_WEBHOOK_SECRET" in items[item]["reason"]


def test_with_the_secret_every_item_passes_and_the_secret_never_shows(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    secret = sandbox.state.stripe_webhook_secret
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_WEBHOOKS": "true",
        "GATE_STAGING_STRIPE_WEBHOOK_SECRET": secret,
    }
    run = _webhook_run(run_gate_inprocess, env)
    items = run.items("staging")
    assert {items[i]["status"] for i in WEBHOOK_ITEMS} == {"passed"}, run.output
    assert secret not in run.output
    for path in run.reports.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_a_profile_without_webhooks_leaves_them_out_of_promotion(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    env = env_at_sandbox(sandbox.state, "staging", *ENDPOINTS)
    run = _webhook_run(run_gate_inprocess, env)
    gate = run.gate("staging")["gate"]
    assert not set(WEBHOOK_ITEMS) & set(gate["required"])
    assert set(gate["not_required"]) == set(WEBHOOK_ITEMS)
    assert "GATE_STAGING_WEBHOOKS=true" in gate["not_required"]["webhooks.unsigned_refused"]
    page = (run.reports / "checklist-staging.md").read_text()
    assert "not required here: `webhooks.unsigned_refused`" in page


# --- A webhook server that is not ours: Stripe's documented verification, in 30 lines ---------


class _StripeEndpoint(BaseHTTPRequestHandler):
    """The receiver of Stripe's docs: ``stripe.Webhook.construct_event`` on the raw body."""

    secret = ""
    verify = True

    def do_POST(self) -> None:
        if self.path not in ("/api/webhooks/stripe", "/api/payments/webhook/stripe"):
            self._answer(404, "text/plain", b"Not Found")
            return
        payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if self.verify:
                signature = self.headers.get("Stripe-Signature")
                stripe.Webhook.construct_event(payload, signature, self.secret)
            else:
                json.loads(payload)
        except (ValueError, stripe.SignatureVerificationError) as exc:
            self._answer(400, "text/plain", f"Webhook Error: {exc}".encode())
            return
        self._answer(200, "application/json", b'{"received": true}')

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def foreign_endpoint() -> Iterator[type[_StripeEndpoint]]:
    handler = type("Endpoint", (_StripeEndpoint,), {"secret": "whsec_" + secrets.token_hex(16)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _foreign_run(run_gate_inprocess: Any, sandbox: Any, endpoint: Any) -> dict[str, Any]:
    env = {
        **env_at_sandbox(sandbox.state, "staging", "FRONTEND_URL", "SUPABASE_URL"),
        **env_at_sandbox(sandbox.state, "staging", "SERVICE_ROLE_KEY"),
        "GATE_STAGING_API_URL": endpoint.url,
        "GATE_STAGING_WEBHOOKS": "true",
        "GATE_STAGING_STRIPE_WEBHOOK_SECRET": endpoint.secret,
    }
    run = _webhook_run(run_gate_inprocess, env)
    return {i: run.items("staging")[i] for i in WEBHOOK_ITEMS} | {"output": run.output}


def test_a_receiver_verifying_as_stripe_documents_passes(
    run_gate_inprocess: Any, sandbox: Any, foreign_endpoint: Any
) -> None:
    items = _foreign_run(run_gate_inprocess, sandbox, foreign_endpoint)
    output = items.pop("output")
    assert {item["status"] for item in items.values()} == {"passed"}, output


def test_the_same_receiver_without_verification_fails(
    run_gate_inprocess: Any, sandbox: Any, foreign_endpoint: Any
) -> None:
    foreign_endpoint.verify = False
    items = _foreign_run(run_gate_inprocess, sandbox, foreign_endpoint)
    output = items.pop("output")
    failed = {i for i, item in items.items() if item["status"] == "failed"}
    assert failed == set(WEBHOOK_ITEMS) - {"webhooks.signed_event_accepted"}, output
    assert "answered 200" in items["webhooks.unsigned_refused"]["reason"]
