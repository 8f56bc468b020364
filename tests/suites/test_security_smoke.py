"""The security smoke against a deployment configured by variables (not the embedded sandbox):
without a second user's token the ownership item is not verified, and the reason names the
variable that would verify it."""

from __future__ import annotations

from typing import Any

import pytest

from project_helpers import ENDPOINTS, env_at_sandbox

# Whole gate runs (in this process, against the shared sandbox): a proof for `pytest tests`,
# not for the inner loop.
pytestmark = pytest.mark.slow


def test_ownership_needs_the_other_users_token(run_gate_inprocess: Any, sandbox: Any) -> None:
    state = sandbox.state
    env = env_at_sandbox(state, "staging", *ENDPOINTS, "CREATOR_TOKEN")
    run = run_gate_inprocess(["smoke", "-m", "security", "--env", "staging"], env=env)
    items = run.items("staging")
    assert items["security.unsigned_token_refused"]["status"] == "passed", run.output
    assert items["security.demo_bypass_refused"]["status"] == "passed", run.output
    ownership = items["security.ownership_enforced"]
    assert ownership["status"] == "not_verified", run.output
    assert "GATE_STAGING_OTHER_USER_TOKEN" in ownership["reason"]
    assert state.other_user_token not in run.output

    with_token = run_gate_inprocess(
        ["smoke", "-m", "security", "--env", "staging"],
        env={**env, "GATE_STAGING_OTHER_USER_TOKEN": state.other_user_token},
    )
    assert with_token.items("staging")["security.ownership_enforced"]["status"] == "passed"
    assert state.other_user_token not in with_token.output
    gate_file = (with_token.reports / "gate-staging.json").read_text()
    assert state.other_user_token not in gate_file
