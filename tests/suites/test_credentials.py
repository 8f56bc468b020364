"""Credentials are proven before the run: a wrong service-role key, creator token or database
password, or an unreachable API, is a usage error (exit 4) naming the variable, in seconds,
with no product failure and no LEFTOVER line."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from project_helpers import ENDPOINTS, env_at_sandbox
from promorang_gate.check_config import check_config
from promorang_gate.errors import ConfigError
from promorang_gate.target.credentials import PROBE_TIMEOUT_S

# The check is bounded by its probes' deadlines (each read at most 2 x PROBE_TIMEOUT_S), not by
# a wall-clock figure a loaded machine cannot promise: how fast it is on a quiet machine is
# the benchmarks' to print. Four probes' worth, with room for the machine's load.
BOUND_S = 4 * 2 * PROBE_TIMEOUT_S + 1.0

REPO = Path(__file__).resolve().parents[2]
WRONG = "wrong-credential-0123456789abcdef"


def _env(state: Any) -> dict[str, str]:
    return env_at_sandbox(
        state, "staging", *ENDPOINTS, "CREATOR_TOKEN", "OTHER_USER_TOKEN", "DATABASE_URL"
    )


def _problem(environ: dict[str, str]) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        check_config(["staging"], REPO, environ, out=io.StringIO())
    return str(caught.value), time.monotonic() - started


def test_good_credentials_pass_within_the_probes_deadlines(sandbox: Any) -> None:
    out = io.StringIO()
    started = time.monotonic()
    assert check_config(["staging"], REPO, _env(sandbox.state), out=out) == 0
    assert time.monotonic() - started < BOUND_S
    assert out.getvalue().startswith("CONFIG staging: ok (api_url ")
    assert sandbox.state.service_role_key not in out.getvalue()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GATE_STAGING_SERVICE_ROLE_KEY", WRONG),
        ("GATE_STAGING_CREATOR_TOKEN", WRONG),
        ("GATE_STAGING_OTHER_USER_TOKEN", "anon"),  # the anon key: a token, but nobody's
    ],
)
def test_a_refused_key_or_token_names_its_variable(sandbox: Any, variable: str, value: str) -> None:
    environ = _env(sandbox.state)
    if value == "anon":
        value = sandbox.state.anon_key
    environ[variable] = value
    message, elapsed = _problem(environ)
    assert message.startswith(f"{variable} is refused by "), message
    assert elapsed < BOUND_S
    assert value not in message
    assert "\n" not in message


def test_a_wrong_database_password_names_the_variable_not_the_password(sandbox: Any) -> None:
    import psycopg

    environ = _env(sandbox.state)
    info = psycopg.conninfo.conninfo_to_dict(sandbox.state.database_url)
    password = "not-the-password-0123"
    info["password"] = password
    info["user"] = "promorang_nobody"
    environ["GATE_STAGING_DATABASE_URL"] = psycopg.conninfo.make_conninfo(**info)
    message, elapsed = _problem(environ)
    assert message.startswith("GATE_STAGING_DATABASE_URL does not connect: "), message
    assert password not in message
    assert elapsed < BOUND_S


def test_the_gate_stops_with_exit_4_and_no_leftover_line(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    environ = {**_env(sandbox.state), "GATE_STAGING_SERVICE_ROLE_KEY": WRONG}
    run = run_gate_inprocess(["smoke", "--env", "staging"], env=environ)
    assert run.returncode == 4, run.output
    assert "GATE_STAGING_SERVICE_ROLE_KEY is refused by" in run.output
    assert "LEFTOVER" not in run.output
    assert "Traceback" not in run.output
    assert WRONG not in run.output
    errors = [line for line in run.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, run.output


def test_the_anon_key_given_as_the_service_role_key_is_named(sandbox: Any) -> None:
    environ = {**_env(sandbox.state), "GATE_STAGING_SERVICE_ROLE_KEY": sandbox.state.anon_key}
    message, _ = _problem(environ)
    assert message.startswith(
        "GATE_STAGING_SERVICE_ROLE_KEY is a key of role 'anon', not the service-role key"
    )


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["bucket_missing", "storage_read_denied"])
def test_a_product_fault_is_no_credential_problem(sandbox: Any, fault: str) -> None:
    """A missing bucket or revoked storage grants are the checks' to judge (a block), not a
    usage error: the preflight only refuses what says the key itself is refused."""
    sandbox.set_faults([fault])
    try:
        assert check_config(["staging"], REPO, _env(sandbox.state), out=io.StringIO()) == 0
    finally:
        sandbox.set_faults([])
