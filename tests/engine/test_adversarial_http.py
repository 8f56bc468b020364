"""Bounded everything: a trickling, oversized, compressed or redirecting target cannot hold the
gate, fill its memory or receive its credentials on another host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from _hostile_server import HostileServer, gzip_bomb
from engine_helpers import gate_file, item_status
from test_ledger import make_target

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target import breaker
from promorang_gate.target.http import (
    BodyTooLarge,
    DeadlineExceeded,
    GateHttp,
    OriginUnavailable,
    RedirectRefused,
    refuse_given_up,
)

DEADLINE_S = 1.5
KEY = "sk-canary-service-role-4d1f"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """Another origin a redirect points at; it must receive nothing."""
    server = HostileServer()
    try:
        yield server
    finally:
        server.stop()


def _http(url: str | None, **kw: object) -> GateHttp:
    # A per-read timeout far above the deadline: only the deadline can end a trickle.
    return GateHttp(
        "local",
        url,
        30.0,
        True,
        Redactor([KEY]),
        attach=False,
        deadline_s=DEADLINE_S,
        max_body_bytes=1024 * 1024,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/trickle", "/trickle-headers"])
def test_a_trickling_target_fails_within_the_deadline(hostile: HostileServer, path: str) -> None:
    started = time.monotonic()
    with _http(hostile.url) as http, pytest.raises(DeadlineExceeded) as info:
        http.get(path)
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S + 1.0, elapsed
    assert str(info.value) == (
        f"GET {path}: no {'complete ' if path == '/trickle' else ''}response within the request"
        f" deadline of {DEADLINE_S:g}s"
    )


@pytest.mark.slow
def test_redirects_share_the_requests_one_deadline(hostile: HostileServer) -> None:
    """Five same-origin hops of 0.4 s each: 2 s in all, past the 1.5 s deadline of the one
    request they answer (each hop must not start a deadline of its own)."""
    started = time.monotonic()
    with _http(hostile.url) as http, pytest.raises(DeadlineExceeded):
        http.get("/slow-redirect?hops=5", follow_redirects=True)
    assert time.monotonic() - started < DEADLINE_S + 1.0


@pytest.mark.slow
def test_supabase_traffic_is_bounded_too(hostile: HostileServer) -> None:
    from promorang_gate.target.supabase_access import make_supabase

    target = make_target(True, supabase_url=hostile.url, service_role_key=KEY)
    with _http(None) as http:
        client = make_supabase(target, http.client)
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            client.table("trickle").select("*").execute()
        assert time.monotonic() - started < DEADLINE_S + 1.0


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/huge?bytes=1610612736", "the response body of 1610612736 bytes exceeds 1048576 bytes"),
        ("/huge?bytes=1610612736&chunked=1", "the response body exceeds 1048576 bytes"),
        ("/gzip-bomb", "the response body exceeds 1048576 bytes"),
    ],
)
def test_an_oversized_body_fails_without_being_read(
    hostile: HostileServer, path: str, fragment: str
) -> None:
    gzip_bomb()  # made before the clock starts
    started = time.monotonic()
    with _http(hostile.url) as http, pytest.raises(BodyTooLarge, match=fragment):
        http.get(path)
    assert time.monotonic() - started < DEADLINE_S


# The probe's own peak: VmHWM belongs to the process's memory since its exec, while Linux's
# ru_maxrss keeps the parent's across fork and exec (an xdist worker that ran in-process gate
# runs is past 300 MB itself).
MEMORY_PROBE = """
import sys
from promorang_gate.target.http import BodyTooLarge, GateHttp
from promorang_gate.secrets.redaction import Redactor

def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

http = GateHttp("local", None, 30.0, True, Redactor(), attach=False)  # the default limits
before = peak_kb()
for url in sys.argv[1:]:
    try:
        http.get(url)
    except BodyTooLarge as exc:
        print("refused:", exc)
print("maxrss_kb", before, peak_kb())
"""


def test_memory_stays_bounded_for_a_1_5_gb_body(hostile: HostileServer) -> None:
    urls = [
        f"{hostile.url}/huge?bytes=1610612736&chunked=1",
        f"{hostile.url}/huge?bytes=1610612736",
        f"{hostile.url}/gzip-bomb",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, *urls],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("refused:") for line in lines) == 3, lines
    _, _before_kb, peak_kb = lines[-1].split()
    assert int(peak_kb) < 200 * 1024, f"peak {int(peak_kb) // 1024} MB"


def test_a_cross_origin_redirect_is_not_followed(
    hostile: HostileServer, elsewhere: HostileServer
) -> None:
    """httpx drops Authorization on a cross-origin redirect but keeps ``apikey``: refused."""
    headers = {"apikey": KEY, "Authorization": f"Bearer {KEY}"}
    to = f"{elsewhere.url}/collect"
    with _http(hostile.url, default_headers=headers) as http:
        answered = http.get(f"/redirect?to={to}")
        assert answered.status_code == 302  # not followed unless asked
        with pytest.raises(RedirectRefused, match="redirected to another origin"):
            http.get(f"/redirect?to={to}", follow_redirects=True)
        same = http.get(f"/redirect?to={hostile.url}/landing", follow_redirects=True)
    assert elsewhere.received == []
    assert same.status_code == 200
    assert [r["path"] for r in hostile.received][-1] == "/landing"
    assert hostile.received[-1]["headers"]["apikey"] == KEY  # same origin: kept


def test_proxy_variables_do_not_bypass_the_guard(
    hostile: HostileServer, elsewhere: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", elsewhere.url)
    monkeypatch.setenv("ALL_PROXY", elsewhere.url)
    with GateHttp("prod", hostile.url, 5.0, False, Redactor(), attach=False) as http:
        assert http.get("/ok").status_code == 200
        with pytest.raises(pytest.skip.Exception):
            http.post("/api/content", json={})
    assert elsewhere.received == []
    assert [r["method"] for r in hostile.received] == ["GET"]


SUITE = """
import pytest
import requests

@pytest.mark.checklist("health.api")
def test_trickle(gate_api):
    gate_api.get("/trickle")

@pytest.mark.checklist("health.frontend")
def test_huge(gate_http, gate_target):
    gate_http.get(gate_target.frontend_url + "/huge?bytes=1610612736")

@pytest.mark.checklist("create_flow.bucket_exists")
def test_redirect(gate_http, gate_target, elsewhere_url):
    gate_http.get(gate_target.supabase_url + "/redirect?to=" + elsewhere_url, follow_redirects=True)
"""


@pytest.mark.slow
def test_each_check_fails_with_a_clear_reason(
    project: pytest.Pytester,
    hostile: HostileServer,
    elsewhere: HostileServer,
    clean_env: pytest.MonkeyPatch,
) -> None:
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_LOCAL_{key}", hostile.url)
    clean_env.setenv("GATE_LOCAL_REQUEST_DEADLINE_S", "1")
    clean_env.setenv("GATE_LOCAL_MAX_BODY_BYTES", "65536")
    project.makeconftest(
        f"""
        import pytest

        @pytest.fixture
        def elsewhere_url():
            return {elsewhere.url!r}
        """
    )
    project.makepyfile(SUITE)
    started = time.monotonic()
    result = project.runpytest_subprocess(
        "--env", "local", "--gate", "full", "-p", "no:cacheprovider"
    )
    assert time.monotonic() - started < 60
    result.assert_outcomes(failed=3)
    statuses = item_status(gate_file(project))
    assert statuses["health.api"] == (
        "failed",
        "DeadlineExceeded: GET /trickle: no complete response within the request deadline of 1s",
    )
    assert statuses["health.frontend"][1] == (
        "BodyTooLarge: GET /huge: the response body of 1610612736 bytes"
        " exceeds 65536 bytes (max_body_bytes); it was not read"
    )
    assert statuses["create_flow.bucket_exists"][1] == (
        f"RedirectRefused: GET /redirect redirected to another origin"
        f" ({elsewhere.url}): not followed, the request's credentials are not sent there"
    )
    assert elsewhere.received == []
    assert json.loads((project.path / "reports" / "gate-local.json").read_text())["verdict"] == (
        "block"
    )


# --- the run's bound per origin (breaker.py) ----------------------------------------------------

SHORT_S = 0.5


@pytest.fixture
def fresh_breaker() -> Iterator[None]:
    """Nothing given up by an earlier test of this process, nothing left for a later one."""
    breaker.reset()
    try:
        yield
    finally:
        breaker.reset()


def _short(url: str) -> GateHttp:
    return GateHttp("local", url, 30.0, True, Redactor(), attach=False, deadline_s=SHORT_S)


@pytest.mark.slow
def test_an_origin_that_stops_answering_is_given_up_for_the_run(
    hostile: HostileServer, fresh_breaker: None
) -> None:
    with _short(hostile.url) as http:
        for path in ("/a/trickle", "/b/trickle", "/c/trickle"):
            with pytest.raises(DeadlineExceeded):
                http.get(path)
        started = time.monotonic()
        with pytest.raises(OriginUnavailable) as info:
            http.get("/ok")
    assert time.monotonic() - started < 0.1
    assert re.fullmatch(
        rf"GET /ok not sent: {re.escape(hostile.url)} did not answer: 3 requests timed out"
        r" \(\d s waited\); no further requests are sent this run",
        str(info.value),
    ), str(info.value)
    assert [r["path"] for r in hostile.received] == ["/a/trickle", "/b/trickle", "/c/trickle"]
    # A client of that origin is not even built: its fixture fails at once, naming it.
    with pytest.raises(OriginUnavailable, match=f"^the client's requests not sent: {hostile.url}"):
        refuse_given_up(f"{hostile.url}/rest/v1", "the client's requests")
    refuse_given_up("http://127.0.0.1:9/other-origin", "the client's requests")


@pytest.mark.slow
def test_one_slow_endpoint_or_an_answer_between_timeouts_never_gives_up(
    hostile: HostileServer, fresh_breaker: None
) -> None:
    """health_slow's shape: one path times out again and again, the rest answers."""
    with _short(hostile.url) as http:
        for _ in range(4):
            with pytest.raises(DeadlineExceeded):
                http.get("/trickle")
        assert http.get("/ok").status_code == 200
        for path in ("/a/trickle", "/b/trickle", "/ok", "/c/trickle", "/d/trickle", "/ok"):
            if path == "/ok":
                assert http.get(path).status_code == 200
            else:
                with pytest.raises(DeadlineExceeded):
                    http.get(path)
    assert breaker.reason(hostile.url) is None


@pytest.mark.slow
def test_the_contract_transport_counts_and_refuses_with_the_gates_client(
    fresh_breaker: None,
) -> None:
    """Timeouts of either path count for the origin; once given up, neither sends."""
    from promorang_gate.contract.spec import DocumentedPaths
    from promorang_gate.contract.transport import OriginUnavailable as ContractUnavailable
    from promorang_gate.contract.transport import guarded_session

    server = HostileServer(everywhere="black-hole")
    documented = DocumentedPaths(["GET /api/health", "GET /api/content", "GET /api/other"])
    session = guarded_session(server.url, documented, lambda method, url: None, deadline_s=SHORT_S)
    try:
        with _short(server.url) as http:
            with pytest.raises(httpx.TimeoutException):
                http.get("/api/health")
            for path in ("/api/content", "/api/other"):
                with pytest.raises(requests.exceptions.Timeout):
                    session.get(f"{server.url}{path}", timeout=10)
            with pytest.raises(ContractUnavailable, match="did not answer: 3 requests timed out"):
                session.get(f"{server.url}/api/health", timeout=10)
            with pytest.raises(OriginUnavailable):
                http.get("/api/health")
        assert len(server.received) == 3
    finally:
        session.close()
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "settings", "bound_s"),
    [
        ("black-hole", {}, 60.0),  # default settings: the bound the issue sets
        ("trickle", {"REQUEST_DEADLINE_S": "2"}, 45.0),  # at default, benchmarks/hostile_targets
    ],
)
def test_a_whole_run_against_a_dead_target_blocks_within_the_bound(
    repo_root: Path, tmp_path: Path, mode: str, settings: dict[str, str], bound_s: float
) -> None:
    """The project's suites, as CI runs them, against a target that never answers (or trickles):
    the origin is given up after a few timeouts, every later check fails at once naming it."""
    server = HostileServer(everywhere=mode)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_", "PROMORANG_"))}
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        env[f"GATE_STAGING_{key}"] = server.url
    env["GATE_STAGING_SERVICE_ROLE_KEY"] = KEY
    env["GATE_STAGING_CREATOR_TOKEN"] = "creator-token-of-the-hostile-run"
    env.update({f"GATE_STAGING_{k}": v for k, v in settings.items()})
    reports = tmp_path / "reports"
    command = [
        sys.executable, "-m", "pytest", "--env", "staging", "-q", "-p", "no:cacheprovider",
        f"--gate-reports={reports}", f"--alluredir={tmp_path / 'allure'}",
    ]  # fmt: skip
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command, cwd=repo_root, env=env, capture_output=True, text=True, timeout=bound_s + 60
        )
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    assert elapsed < bound_s, f"{mode}: the run took {elapsed:.0f} s\n{proc.stdout[-3000:]}"
    assert proc.returncode == 1, proc.stdout[-3000:]
    gate = json.loads((reports / "gate-staging.json").read_text())
    assert gate["verdict"] == "block"
    statuses = item_status(gate)
    assert not [i for i, (status, _) in statuses.items() if status == "passed"]
    given_up = [i for i, (_, reason) in statuses.items() if "did not answer" in (reason or "")]
    assert len(given_up) >= 10, statuses
    assert "did not answer" in statuses["health.api"][1]
    # The contract's runner is not even built (schemathesis not imported) for a given-up API.
    contract = {i: reason for i, (_, reason) in statuses.items() if i.startswith("contract.")}
    assert contract
    assert all("the contract's requests not sent" in r for r in contract.values()), contract
    assert len(server.received) <= 6, [r["path"] for r in server.received]


def test_the_browser_check_loads_no_page_from_a_given_up_origin(fresh_breaker: None) -> None:
    from types import SimpleNamespace

    from promorang_gate.browser.watch import PageWatch

    api = "https://api.example.com"
    target = SimpleNamespace(
        name="staging",
        api_url=api,
        frontend_url="https://app.example.com",
        supabase_url="https://db.example.co",
        writes_allowed=True,
    )
    for path in ("/api/health", "/api/content", "/api/other"):
        breaker.timed_out(api + path, 10.0)
    with pytest.raises(OriginUnavailable) as info:
        PageWatch(target).attach(None)  # type: ignore[arg-type]  # refused before any browser
    assert str(info.value) == (
        "the browser check does not load the page: https://api.example.com:443 did not answer:"
        " 3 requests timed out (30 s waited); no further requests are sent this run"
    )
