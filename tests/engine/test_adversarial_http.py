"""Bounded everything: a trickling, oversized, compressed or redirecting target cannot hold the
gate, fill its memory or receive its credentials on another host."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from _hostile_server import HostileServer, gzip_bomb
from engine_helpers import gate_file, item_status
from test_ledger import make_target

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.http import BodyTooLarge, DeadlineExceeded, GateHttp, RedirectRefused

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


def test_redirects_share_the_requests_one_deadline(hostile: HostileServer) -> None:
    """Five same-origin hops of 0.4 s each: 2 s in all, past the 1.5 s deadline of the one
    request they answer (each hop must not start a deadline of its own)."""
    started = time.monotonic()
    with _http(hostile.url) as http, pytest.raises(DeadlineExceeded):
        http.get("/slow-redirect?hops=5", follow_redirects=True)
    assert time.monotonic() - started < DEADLINE_S + 1.0


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
