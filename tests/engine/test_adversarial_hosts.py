"""Hosts compared as connections see them: staging's URLs spelled ``localhost`` while prod is
``127.0.0.1`` (or plain ``http`` for an ``https`` host, a default port written out, a name
resolving to prod's address) are prod, refused at start and again before the first write."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _hostile_server import HostileServer
from engine_helpers import assert_usage_error

from promorang_gate.target import connections
from promorang_gate.target.connections import ProtectedHostRefused, endpoints, protect
from promorang_gate.target.http import guard

SUITE = """
import pytest

@pytest.mark.checklist("health.api")
def test_write(gate_api):
    gate_api.post("/api/content", json={"title": "x"})
"""

REAL_GETADDRINFO = socket.getaddrinfo


def _resolving(names: dict[str, str]) -> Any:
    """getaddrinfo answering ``names`` (name -> address) and refusing every other name."""

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], 0))]
        if host in ("localhost", "127.0.0.1"):
            return REAL_GETADDRINFO(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return fake


@pytest.fixture
def prod(clean_env: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    server = HostileServer()
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_PROD_{key}", server.url)
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-service-role-key-0123")
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-service-role-key-0123")
    try:
        yield server
    finally:
        server.stop()


def _port(server: HostileServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _point_staging(clean_env: pytest.MonkeyPatch, url: str) -> None:
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_STAGING_{key}", url)


@pytest.mark.parametrize(
    "spelling",
    [
        "http://localhost:{port}",
        "https://localhost:{port}",
        "http://LOCALHOST.:{port}/",
        "http://[::1]:{port}",
        "http://127.0.0.2:{port}",
        "http://gate.localhost:{port}",
        "http://staging.example.test:{port}",
    ],
    ids=["localhost", "scheme", "case-dot", "ipv6", "loopback-net", "dot-localhost", "resolved"],
)
def test_staging_spelled_otherwise_than_prod_is_refused_at_start(
    project: pytest.Pytester, prod: HostileServer, clean_env: pytest.MonkeyPatch, spelling: str
) -> None:
    clean_env.setattr(socket, "getaddrinfo", _resolving({"staging.example.test": "127.0.0.1"}))
    _point_staging(clean_env, spelling.format(port=_port(prod)))
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "staging")
    assert_usage_error(result, project, "is a host of the protected env 'prod'")
    assert prod.received == []


def test_plain_http_to_productions_https_host_is_production(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    _point_staging(clean_env, "http://127.0.0.1:9")
    clean_env.setenv("GATE_STAGING_API_URL", "http://api.promorang.com")
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-service-role-key-0123")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "staging")
    assert_usage_error(result, project, "is a host of the protected env 'prod'")


def test_another_port_on_the_same_machine_is_not_prod(
    project: pytest.Pytester, prod: HostileServer, clean_env: pytest.MonkeyPatch
) -> None:
    _point_staging(clean_env, f"http://localhost:{_port(prod) % 65535 + 1}")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        def test_api(gate_target):
            assert gate_target.name == "staging"
        """
    )
    result = project.runpytest("--env", "staging")
    assert result.ret != pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.assert_outcomes(passed=1)


def test_a_name_that_resolves_to_prod_by_the_first_write_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Allowed at start (the name did not resolve to prod then), stopped before the write."""
    monkeypatch.setattr(connections, "_protected_urls", {})
    monkeypatch.setattr(connections, "_checked", set())
    protect({"http://127.0.0.1:5444": "prod"})
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"rebound.example.test": "10.1.2.3"}))
    guard("GET", "http://rebound.example.test:5444/api/health", True, "staging")
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"rebound.example.test": "127.0.0.1"}))
    with pytest.raises(ProtectedHostRefused, match="protected env 'prod'"):
        guard("POST", "http://rebound.example.test:5444/api/content", True, "staging")
    guard("POST", "http://elsewhere.example.test:5444/api/content", True, "staging")
    protect({})


def test_a_name_whose_lookup_hangs_is_waited_for_once_and_holds_up_no_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A resolver with no answer for one name (its lookups end only after the resolver's own
    timeout): the first comparison waits RESOLVE_TIMEOUT_S and compares by spelling; later ones
    do not wait the limit again while it stays slow, and other names resolve meanwhile. Once
    the name answers quickly (it may now reach prod), that answer is seen."""
    release = threading.Event()
    calls: list[str] = []

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        if host == "hangs.example.test" and not release.is_set():
            release.wait(120)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(connections, "_LOOKUPS", connections._Lookups())
    monkeypatch.setattr(connections, "RESOLVE_TIMEOUT_S", 0.2)
    try:
        assert endpoints("http://hangs.example.test:81") == {("hangs.example.test", 81)}
        # Were it waited for again, each of these would take the minute.
        monkeypatch.setattr(connections, "RESOLVE_TIMEOUT_S", 60.0)
        started = time.monotonic()
        for _ in range(3):
            assert endpoints("http://hangs.example.test:81") == {("hangs.example.test", 81)}
        assert ("10.1.2.3", 81) in endpoints("http://other.example.test:81")
        assert time.monotonic() - started < 30
        assert calls.count("hangs.example.test") == 1  # the lookup in flight is joined
    finally:
        release.set()
    deadline = time.monotonic() + 30  # the hung lookup ends; a new one answers at once
    while ("10.1.2.3", 81) not in endpoints("http://hangs.example.test:81"):
        assert time.monotonic() < deadline, "the name's quick answer was never seen"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://localhost:80", "http://127.0.0.1", True),
        ("https://api.promorang.com", "http://api.promorang.com:80", True),
        ("https://api.promorang.com:443", "http://API.promorang.com.", True),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081", False),
        ("https://api.promorang.com", "https://app.promorang.com", False),
    ],
)
def test_endpoints(a: str, b: str, same: bool) -> None:
    assert bool(endpoints(a, resolve=False) & endpoints(b, resolve=False)) is same
