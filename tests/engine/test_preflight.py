"""An unreachable deployment stops the run before any test with one line naming the host."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from engine_helpers import assert_usage_error

SUITE = """
import pytest

@pytest.mark.checklist("health.api")
def test_api(gate_target):
    pass

@pytest.mark.checklist("health.frontend")
def test_frontend(gate_target):
    pass
"""


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _point_local_at(monkeypatch: pytest.MonkeyPatch, api_port: int, other_port: int) -> None:
    monkeypatch.delenv("GATE_LOCAL_PREFLIGHT")
    monkeypatch.setenv("GATE_LOCAL_READINESS_BUDGET_S", "0.5")
    monkeypatch.setenv("GATE_LOCAL_API_URL", f"http://127.0.0.1:{api_port}")
    monkeypatch.setenv("GATE_LOCAL_FRONTEND_URL", f"http://127.0.0.1:{other_port}")
    monkeypatch.setenv("GATE_LOCAL_SUPABASE_URL", f"http://127.0.0.1:{other_port}")


def test_refused_host_is_one_line_naming_the_variable(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, closed_port: int, listening_port: int
) -> None:
    project.makepyfile(SUITE)
    _point_local_at(clean_env, closed_port, listening_port)
    result = project.runpytest("--env", "local")
    assert_usage_error(
        result,
        project,
        f"env 'local' is unreachable: api_url http://127.0.0.1:{closed_port}: Connection refused"
        " after 0.5s; start it, or point GATE_LOCAL_API_URL (or --api-url) at a running"
        " deployment",
    )


def test_unresolvable_host_fails_without_waiting(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, listening_port: int
) -> None:
    project.makepyfile(SUITE)
    _point_local_at(clean_env, listening_port, listening_port)
    clean_env.setenv("GATE_LOCAL_READINESS_BUDGET_S", "60")
    clean_env.setenv("GATE_LOCAL_SUPABASE_URL", "https://no-such-host.promorang.invalid")
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "host 'no-such-host.promorang.invalid' does not resolve")
    assert result.duration < 30


def test_reachable_hosts_let_the_run_go_on(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, listening_port: int
) -> None:
    project.makepyfile(SUITE)
    _point_local_at(clean_env, listening_port, listening_port)
    result = project.runpytest("--env", "local")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
