"""Tokens the way Supabase issues them: the gate signs its test users in itself (email and
password, a fresh token per run, redacted), and a static token that expired is one usage error
naming its variable, not a row of 401s."""

from __future__ import annotations

import time
from typing import Any

import jwt

from project_helpers import ENDPOINTS, env_at_sandbox
from promorang_sandbox.database import (
    CREATOR_EMAIL,
    CREATOR_PASSWORD,
    OTHER_EMAIL,
    OTHER_PASSWORD,
)
from promorang_sandbox.jwtkeys import JWT_SECRET

SECURITY = ["smoke", "-m", "security", "--env", "staging"]


def test_the_gate_signs_its_users_in_with_email_and_password(run_gate: Any, sandbox: Any) -> None:
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_STAGING_CREATOR_PASSWORD": CREATOR_PASSWORD,
        "GATE_STAGING_OTHER_USER_EMAIL": OTHER_EMAIL,
        "GATE_STAGING_OTHER_USER_PASSWORD": OTHER_PASSWORD,
    }
    run = run_gate(SECURITY, env=env)
    items = run.items("staging")
    for item in ("unsigned_token_refused", "demo_bypass_refused", "ownership_enforced"):
        assert items[f"security.{item}"]["status"] == "passed", run.output
    assert CREATOR_PASSWORD not in run.output
    assert OTHER_PASSWORD not in run.output
    assert sandbox.state.creator_token not in run.output


def test_a_wrong_password_is_a_usage_error_naming_the_variable(run_gate: Any, sandbox: Any) -> None:
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_STAGING_CREATOR_PASSWORD": "not-the-creators-password",
    }
    run = run_gate(SECURITY, env=env)
    assert run.returncode == 4, run.output
    assert "GATE_STAGING_CREATOR_EMAIL: signing in at" in run.output
    assert "Invalid login credentials" in run.output
    assert "not-the-creators-password" not in run.output


def test_an_expired_static_token_is_a_usage_error_naming_the_variable(
    run_gate: Any, sandbox: Any
) -> None:
    now = int(time.time())
    claims = {"sub": sandbox.state.creator_id, "role": "authenticated", "exp": now - 60}
    expired = jwt.encode({**claims, "iat": now - 3660}, JWT_SECRET, algorithm="HS256")
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_TOKEN": expired,
    }
    run = run_gate(SECURITY, env=env)
    assert run.returncode == 4, run.output
    assert "GATE_STAGING_CREATOR_TOKEN expired" in run.output
    assert "GATE_STAGING_CREATOR_EMAIL and GATE_STAGING_CREATOR_PASSWORD" in run.output
    assert expired not in run.output


def test_production_refuses_a_sign_in_before_anything_is_sent(run_gate: Any, sandbox: Any) -> None:
    """A sign-in is a POST to the auth server: an env without writes takes tokens only, and the
    sandbox standing in for production records no request to its auth server."""
    sandbox.clear_requests()
    env = {
        **env_at_sandbox(sandbox.state, "prod", *ENDPOINTS),
        "GATE_PROD_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_PROD_CREATOR_PASSWORD": CREATOR_PASSWORD,
    }
    run = run_gate(["smoke", "--env", "prod", "-m", "health"], env=env)
    assert run.returncode == 4, run.output
    assert "GATE_PROD_CREATOR_EMAIL: env 'prod' allows no writes" in run.output
    assert CREATOR_PASSWORD not in run.output
    assert not [r for r in sandbox.requests() if r["path"].startswith("/auth/v1/token")]
