"""The webhook checks against a deployment configured by variables (not the embedded sandbox):
without the webhook secret only the refusals that need none run; the promotion gate requires
the items only where the profile says the release serves the webhook; the secret never shows."""

from __future__ import annotations

from typing import Any

from project_helpers import ENDPOINTS, env_at_sandbox

WEBHOOK_ITEMS = (
    "webhooks.unsigned_refused",
    "webhooks.wrong_secret_refused",
    "webhooks.stale_timestamp_refused",
    "webhooks.altered_body_refused",
    "webhooks.signed_event_accepted",
)
NEED_THE_SECRET = WEBHOOK_ITEMS[2:]


def _webhook_run(run_gate: Any, env: dict[str, str]) -> Any:
    return run_gate(["smoke/test_webhooks.py", "--env", "staging", "--gate", "promotion"], env=env)


def test_without_the_secret_only_the_refusals_run(run_gate: Any, sandbox: Any) -> None:
    env = {**env_at_sandbox(sandbox.state, "staging", *ENDPOINTS), "GATE_STAGING_WEBHOOKS": "1"}
    run = _webhook_run(run_gate, env)
    items = run.items("staging")
    assert items["webhooks.unsigned_refused"]["status"] == "passed", run.output
    assert items["webhooks.wrong_secret_refused"]["status"] == "passed", run.output
    for item in NEED_THE_SECRET:
        assert items[item]["status"] == "not_verified", run.output
        assert "GATE_STAGING_STRIPE_WEBHOOK_SECRET" in items[item]["reason"]


def test_with_the_secret_every_item_passes_and_the_secret_never_shows(
    run_gate: Any, sandbox: Any
) -> None:
    secret = sandbox.state.stripe_webhook_secret
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_WEBHOOKS": "true",
        "GATE_STAGING_STRIPE_WEBHOOK_SECRET": secret,
    }
    run = _webhook_run(run_gate, env)
    items = run.items("staging")
    assert {items[i]["status"] for i in WEBHOOK_ITEMS} == {"passed"}, run.output
    assert secret not in run.output
    for path in run.reports.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_a_profile_without_webhooks_leaves_them_out_of_promotion(
    run_gate: Any, sandbox: Any
) -> None:
    env = env_at_sandbox(sandbox.state, "staging", *ENDPOINTS)
    run = _webhook_run(run_gate, env)
    gate = run.gate("staging")["gate"]
    assert not set(WEBHOOK_ITEMS) & set(gate["required"])
    assert set(gate["not_required"]) == set(WEBHOOK_ITEMS)
    assert "GATE_STAGING_WEBHOOKS=true" in gate["not_required"]["webhooks.unsigned_refused"]
    page = (run.reports / "checklist-staging.md").read_text()
    assert "not required here: `webhooks.unsigned_refused`" in page
