"""Tokens the way Supabase issues them: the gate signs its test users in itself (email and
password, a fresh token per run, redacted), and a static token that expired is one usage error
naming its variable, not a row of 401s."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from project_helpers import ENDPOINTS, env_at_sandbox
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import resolve_targets
from promorang_gate.target.http import GateHttp
from promorang_gate.target.signin import CreatorAuth
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


# --- a token that expires during the run: the API client renews it (signin.CreatorAuth) --------


def _token(sandbox: Any, exp_in_s: int) -> str:
    now = int(time.time())
    claims = {"sub": sandbox.state.creator_id, "role": "authenticated", "exp": now + exp_in_s}
    return jwt.encode({**claims, "iat": now - 3600}, JWT_SECRET, algorithm="HS256")


def _api(sandbox: Any, tmp_path: Path, token: str, credentials: bool, **kw: Any) -> Any:
    """The gate's API client for env staging at the sandbox, as ``gate_api`` makes it."""
    env = {**env_at_sandbox(sandbox.state, "staging", *ENDPOINTS)}
    if credentials:
        env |= {"GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL}
        env |= {"GATE_STAGING_CREATOR_PASSWORD": CREATOR_PASSWORD}
    target = resolve_targets(["staging"], env, {}, tmp_path)["staging"]
    target = dataclasses.replace(target, creator_token=token)
    redactor = Redactor()
    auth = CreatorAuth(target, redactor, **kw)
    headers = {"Authorization": f"Bearer {token}"}
    http = GateHttp("staging", target.api_url, 10, True, redactor, headers, False, auth=auth)
    return http, auth, redactor


def _sign_ins(sandbox: Any) -> int:
    return len([r for r in sandbox.requests() if r["path"].startswith("/auth/v1/token")])


@pytest.mark.parametrize("when", ["near-expiry", "answered-401"])
def test_a_signed_in_token_that_expires_mid_run_is_renewed_once(
    sandbox: Any, tmp_path: Path, when: str
) -> None:
    """Near its expiry the token is renewed before the request; when the API answers 401 to an
    expired one (the clock check off: ``margin_s``), the client signs in again and resends."""
    expired = _token(sandbox, -60)
    margin = {"margin_s": -(10.0**9)} if when == "answered-401" else {}
    http, auth, redactor = _api(sandbox, tmp_path, expired, True, **margin)
    sandbox.clear_requests()
    with http:
        answers = [http.get("/api/content", params={"limit": 1}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], http.describe_last(3)
    assert (auth.renewals, _sign_ins(sandbox)) == (1, 1)  # once, not once per request
    reads = [r for r in sandbox.requests() if r["path"] == "/api/content"]
    assert len(reads) == (3 if when == "answered-401" else 2)  # the 401 was resent once
    assert auth.token != expired
    assert auth.token not in redactor.redact(f"x {auth.token} y")  # the new token is redacted


def test_clients_without_an_auth_flow_read_the_renewed_token(sandbox: Any, tmp_path: Path) -> None:
    """The contract's requests session asks ``current()`` before each request
    (``gate_creator_token``): an expiring token is renewed once, then shared."""
    expired = _token(sandbox, -60)
    http, auth, _ = _api(sandbox, tmp_path, expired, True)
    sandbox.clear_requests()
    with http:
        tokens = {auth.current() for _ in range(3)}
        answer = http.get("/api/content", params={"limit": 1})
    assert answer.status_code == 200
    assert tokens == {auth.token}
    assert auth.token != expired
    assert (auth.renewals, _sign_ins(sandbox)) == (1, 1)


def test_a_static_token_that_expires_mid_run_stops_with_a_usage_error(
    sandbox: Any, tmp_path: Path
) -> None:
    expired = _token(sandbox, -60)
    http, _, _ = _api(sandbox, tmp_path, expired, False)
    sandbox.clear_requests()
    with http, pytest.raises(pytest.exit.Exception) as stopped:
        http.get("/api/content", params={"limit": 1})
    assert stopped.value.returncode == pytest.ExitCode.USAGE_ERROR
    assert "GATE_STAGING_CREATOR_TOKEN expired during the run" in str(stopped.value)
    assert "set GATE_STAGING_CREATOR_EMAIL and GATE_STAGING_CREATOR_PASSWORD" in str(stopped.value)
    assert not [r for r in sandbox.requests() if r["path"].startswith(("/api/", "/auth/"))]


def test_another_users_token_on_a_request_is_left_as_it_is(sandbox: Any, tmp_path: Path) -> None:
    http, auth, _ = _api(sandbox, tmp_path, _token(sandbox, 3600), True)
    sandbox.clear_requests()
    with http:
        other = {"Authorization": f"Bearer {_token(sandbox, -60)[:-4]}abcd"}
        answer = http.put(f"/api/content/{uuid.uuid4()}", headers=other, json={"title": "x"})
    assert answer.status_code == 401
    assert (auth.renewals, _sign_ins(sandbox)) == (0, 0)
