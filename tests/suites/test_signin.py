"""Tokens the way Supabase issues them: the gate signs its test users in itself (email and
password, a fresh token per run, redacted), and a static token that expired is one usage error
naming its variable, not a row of 401s."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest

from project_helpers import ENDPOINTS, env_at_sandbox
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target import signin
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


def test_the_gate_signs_its_users_in_with_email_and_password(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_STAGING_CREATOR_PASSWORD": CREATOR_PASSWORD,
        "GATE_STAGING_OTHER_USER_EMAIL": OTHER_EMAIL,
        "GATE_STAGING_OTHER_USER_PASSWORD": OTHER_PASSWORD,
    }
    run = run_gate_inprocess(SECURITY, env=env)
    items = run.items("staging")
    for item in ("unsigned_token_refused", "demo_bypass_refused", "ownership_enforced"):
        assert items[f"security.{item}"]["status"] == "passed", run.output
    assert CREATOR_PASSWORD not in run.output
    assert OTHER_PASSWORD not in run.output
    assert sandbox.state.creator_token not in run.output


def test_a_wrong_password_is_a_usage_error_naming_the_variable(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_STAGING_CREATOR_PASSWORD": "not-the-creators-password",
    }
    run = run_gate_inprocess(SECURITY, env=env)
    assert run.returncode == 4, run.output
    assert "GATE_STAGING_CREATOR_EMAIL: signing in at" in run.output
    assert "Invalid login credentials" in run.output
    assert "not-the-creators-password" not in run.output


def test_an_expired_static_token_is_a_usage_error_naming_the_variable(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    now = int(time.time())
    claims = {"sub": sandbox.state.creator_id, "role": "authenticated", "exp": now - 60}
    expired = jwt.encode({**claims, "iat": now - 3660}, JWT_SECRET, algorithm="HS256")
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_TOKEN": expired,
    }
    run = run_gate_inprocess(SECURITY, env=env)
    assert run.returncode == 4, run.output
    assert "GATE_STAGING_CREATOR_TOKEN expired" in run.output
    assert "GATE_STAGING_CREATOR_EMAIL and GATE_STAGING_CREATOR_PASSWORD" in run.output
    assert expired not in run.output


def test_production_refuses_a_sign_in_before_anything_is_sent(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    """A sign-in is a POST to the auth server: an env without writes takes tokens only, and the
    sandbox standing in for production records no request to its auth server."""
    sandbox.clear_requests()
    env = {
        **env_at_sandbox(sandbox.state, "prod", *ENDPOINTS),
        "GATE_PROD_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_PROD_CREATOR_PASSWORD": CREATOR_PASSWORD,
    }
    run = run_gate_inprocess(["smoke", "--env", "prod", "-m", "health"], env=env)
    assert run.returncode == 4, run.output
    assert "GATE_PROD_CREATOR_EMAIL: env 'prod' allows no writes" in run.output
    assert CREATOR_PASSWORD not in run.output
    assert not [r for r in sandbox.requests() if r["path"].startswith("/auth/v1/token")]


# --- a token that expires during the run: the API client renews it (signin.CreatorAuth) --------


def _token(sandbox: Any, exp_in_s: int) -> str:
    now = int(time.time())
    claims = {"sub": sandbox.state.creator_id, "role": "authenticated", "exp": now + exp_in_s}
    return jwt.encode({**claims, "iat": now - 3600}, JWT_SECRET, algorithm="HS256")


def _target(sandbox: Any, tmp_path: Path, token: str, credentials: bool) -> Any:
    """Env staging at the sandbox, its creator's token ``token``."""
    env = {**env_at_sandbox(sandbox.state, "staging", *ENDPOINTS)}
    if credentials:
        env |= {"GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL}
        env |= {"GATE_STAGING_CREATOR_PASSWORD": CREATOR_PASSWORD}
    target = resolve_targets(["staging"], env, {}, tmp_path)["staging"]
    return dataclasses.replace(target, creator_token=token)


def _api(sandbox: Any, tmp_path: Path, token: str, credentials: bool, **kw: Any) -> Any:
    """The gate's API client for env staging at the sandbox, as ``gate_api`` makes it."""
    target = _target(sandbox, tmp_path, token, credentials)
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


# --- the contract's requests session: the same rule (CreatorAuth.resend_with) -----------------

CONTRACT_SPEC = Path(__file__).resolve().parents[2] / "contract" / "openapi.yaml"
# Probes with the creator's token that create nothing; deterministic: no hypothesis strategy
# is drawn in this process (a later in-process pytest run would take it for its plugin's).
BY_ID = ("GET /api/content/{id}", "PUT /api/content/{id}", "DELETE /api/content/{id}")
Answer = tuple[int, list[int], str]


class _Ledger:
    """These contract items create nothing: a registration is a defect of the test."""

    def content(self, content_id: str) -> None:
        raise AssertionError(f"content {content_id} registered")

    def object(self, bucket: str, path: str) -> None:
        raise AssertionError(f"object {bucket}/{path} registered")


@contextmanager
def _contract(target: Any, auth: CreatorAuth) -> Iterator[tuple[Any, list[Answer]]]:
    """The contract's runner, given the creator's token as ``contract_runner`` gives it, and
    the answers its session received: (status, statuses it replaced, Authorization sent)."""
    from promorang_gate.contract.runner import open_runner

    answers: list[Answer] = []

    def record(response: Any, **_: Any) -> None:
        sent = str(response.request.headers.get("Authorization", ""))
        answers.append((response.status_code, [r.status_code for r in response.history], sent))

    with open_runner(target, "gr20261207t000000-abcdef", CONTRACT_SPEC, None, auth) as runner:
        runner.session.hooks["response"].append(record)
        yield runner, answers


def test_a_contract_request_answered_401_to_an_expired_token_is_renewed_and_resent(
    sandbox: Any, tmp_path: Path
) -> None:
    """The token expires between the read before a case and the answer (the read's renewal
    off: ``margin_s``): the 401 is sent again once with a fresh sign-in, and the items pass."""
    expired = _token(sandbox, -60)
    target = _target(sandbox, tmp_path, expired, credentials=True)
    redactor = Redactor()
    auth = CreatorAuth(target, redactor, margin_s=-(10.0**9))
    sandbox.clear_requests()
    with _contract(target, auth) as (runner, answers):
        for label in BY_ID:
            runner.malformed_ids(label, _Ledger())
    assert (auth.renewals, _sign_ins(sandbox)) == (1, 1)
    assert answers[0][1:] == ([401], f"Bearer {auth.token}")  # the one 401, resent once
    assert all(history == [] for _, history, _ in answers[1:]), answers
    assert {sent for _, _, sent in answers} == {f"Bearer {auth.token}"}
    reads = [r for r in sandbox.requests() if r["path"].startswith("/api/content/")]
    assert len(reads) == len(answers) + 1
    assert auth.token not in redactor.redact(f"x {auth.token} y")  # the new token is redacted


def test_a_static_token_that_expires_during_the_contract_stops_it_with_a_usage_error(
    sandbox: Any, tmp_path: Path
) -> None:
    """A static token valid when read (the clock ticks past its expiry before the answer)
    stops the run at the first 401: no 401 row."""
    expired = _token(sandbox, -60)
    exp = int(jwt.decode(expired, options={"verify_signature": False})["exp"])
    target = _target(sandbox, tmp_path, expired, credentials=False)
    ticks = itertools.count(exp - 1, 2)  # read: 1 s left; answer: 1 s past
    auth = CreatorAuth(target, Redactor(), clock=lambda: float(next(ticks)))
    sandbox.clear_requests()
    with _contract(target, auth) as (runner, answers), pytest.raises(pytest.exit.Exception) as stop:
        runner.malformed_ids(BY_ID[0], _Ledger())
    assert stop.value.returncode == pytest.ExitCode.USAGE_ERROR
    assert "GATE_STAGING_CREATOR_TOKEN expired during the run" in str(stop.value)
    assert "set GATE_STAGING_CREATOR_EMAIL and GATE_STAGING_CREATOR_PASSWORD" in str(stop.value)
    assert answers == []  # the stop came before the 401 reached the contract's checks
    assert (auth.renewals, _sign_ins(sandbox)) == (0, 0)
    reads = [r for r in sandbox.requests() if r["path"].startswith("/api/content/")]
    assert len(reads) == 1  # the one answered 401; nothing sent after it


@pytest.mark.parametrize("label", ["POST /api/content", "DELETE /api/content/{id}"])
def test_a_write_sent_without_a_token_is_neither_renewed_nor_resent(
    sandbox: Any, tmp_path: Path, label: str
) -> None:
    """The deliberate 401s (test_write_requires_token, test_anonymous_read_as_declared) pass
    as they are: even with the creator's token expired, no sign-in and one request each."""
    target = _target(sandbox, tmp_path, _token(sandbox, -60), credentials=True)
    auth = CreatorAuth(target, Redactor(), margin_s=-(10.0**9))
    sandbox.clear_requests()
    with _contract(target, auth) as (runner, answers):
        runner.requires_token(label, _Ledger())
        runner.anonymous_read("GET /api/content", _Ledger())
    assert answers == [(401, [], ""), (401, [], "")]
    assert (auth.renewals, _sign_ins(sandbox)) == (0, 0)
    assert len([r for r in sandbox.requests() if r["path"].startswith("/api/content")]) == 2


def test_another_users_token_on_the_contract_session_is_left_as_it_is(
    sandbox: Any, tmp_path: Path
) -> None:
    target = _target(sandbox, tmp_path, _token(sandbox, -60), credentials=True)
    auth = CreatorAuth(target, Redactor(), margin_s=-(10.0**9))
    other = f"Bearer {_token(sandbox, -60)[:-4]}abcd"
    sandbox.clear_requests()
    with _contract(target, auth) as (runner, answers):
        runner.session.get(f"{runner.api_url}/api/content", headers={"Authorization": other})
    assert answers == [(401, [], other)]
    assert (auth.renewals, _sign_ins(sandbox)) == (0, 0)


# --- whole contract runs whose creator token expired since it was read ----------------------

# Items whose requests are deliberately sent without a token, and the by-id probes, which carry
# the creator's: a few seconds of contract, each write sent exactly once when nothing retries.
NO_TOKEN_AND_PROBES = ["contract", "--env", "staging"]
NO_TOKEN_AND_PROBES += ["-k", "requires_token or anonymous or malformed"]


def _outcomes(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line, e.g. ``{"passed": 9}``."""
    line = [x for x in output.splitlines() if re.search(r"\d+ \w+ in [\d.]+s", x)][-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", line) if word != "deselected"}


def _expired_since_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start's checks of the tokens off (their expiry, GoTrue's word on them), so that a
    token that expired a minute ago stands for one that expired after them, during the run."""
    import promorang_gate.plugin

    monkeypatch.setattr(signin, "EXPIRY_MARGIN_S", -(10**9))
    monkeypatch.setattr(promorang_gate.plugin, "check_credentials", lambda _: None)


def test_a_contract_run_whose_token_expired_signs_in_again_and_passes(
    sandbox: Any, run_gate_inprocess: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token the run signed in with is expired by the time the contract sends it (the
    start's sign-in answers one that expired a minute ago; the read's renewal is off): the first
    request carrying it is answered 401, the gate signs in again, once, resends it, and every
    test passes; the deliberate no-token 401s pass as they are, sent once each."""
    expired = _token(sandbox, -60)
    _expired_since_the_start(monkeypatch)
    monkeypatch.setattr(signin, "_sign_in", lambda *_: expired)
    monkeypatch.setattr(signin, "REFRESH_MARGIN_S", -(10.0**9))
    env = {
        **env_at_sandbox(sandbox.state, "staging", *ENDPOINTS),
        "GATE_STAGING_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_STAGING_CREATOR_PASSWORD": CREATOR_PASSWORD,
    }
    sandbox.clear_requests()
    run = run_gate_inprocess(NO_TOKEN_AND_PROBES, env=env)
    assert _outcomes(run.output) == {"passed": 9}, run.output
    assert _sign_ins(sandbox) == 1  # the one renewal: nothing else signed in
    sent = Counter((r["method"], r["path"]) for r in sandbox.requests() if r["service"] == "api")
    # Every probe and no-token write is another request: the one sent twice is the first
    # with the creator's token (the first malformed id), resent after its 401.
    assert [key for key, n in sent.items() if n > 1] == [("GET", "/api/content/abc")], sent
    assert expired not in run.output


def test_a_static_token_that_expired_during_the_run_stops_the_contract(
    sandbox: Any, run_gate_inprocess: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A static token that passed the start's check (off here) and expired since: the
    contract stops with the usage error naming the variable, not with a row of 401s, from
    inside schemathesis' generated cases too."""
    expired = _token(sandbox, -60)
    _expired_since_the_start(monkeypatch)
    env = {**env_at_sandbox(sandbox.state, "staging", *ENDPOINTS)}
    env["GATE_STAGING_CREATOR_TOKEN"] = expired
    sandbox.clear_requests()
    run = run_gate_inprocess(["contract", "--env", "staging", "-k", "conforms"], env=env)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.output
    assert "GATE_STAGING_CREATOR_TOKEN expired during the run" in run.output
    # The first read of the token, in the first generated case, stopped it: no row.
    assert not {"failed", "error", "errors"} & set(_outcomes(run.output)), run.output
    assert expired not in run.output
