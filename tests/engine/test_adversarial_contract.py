"""The contract path is bounded too: schemathesis' requests transport honours the per-request
total deadline and the body cap, reading a body in pieces (never whole) and never past either."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from _hostile_server import HostileServer, gzip_bomb

from promorang_gate.contract.spec import DocumentedPaths
from promorang_gate.contract.transport import BodyTooLarge, DeadlineExceeded, guarded_session

DEADLINE_S = 1.5
CAP = 64 * 1024


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    try:
        yield server
    finally:
        server.stop()


def _session(url: str, deadline_s: float = DEADLINE_S, cap: int = CAP) -> requests.Session:
    documented = DocumentedPaths(
        ["GET /trickle", "GET /trickle-headers", "GET /huge", "GET /gzip-bomb", "GET /ok"]
    )
    return guarded_session(
        url, documented, lambda method, url: None, deadline_s=deadline_s, max_body_bytes=cap
    )


@pytest.mark.slow
def test_a_trickling_body_ends_at_the_deadline(hostile: HostileServer) -> None:
    session = _session(hostile.url)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"no complete answer within 1\.5 s"):
        session.get(f"{hostile.url}/trickle", timeout=10)
    assert time.monotonic() - started < DEADLINE_S + 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", ["/huge?bytes=10000000&chunked=1", "/huge?bytes=10000000", "/gzip-bomb"]
)
def test_an_oversized_body_is_refused_without_being_read(hostile: HostileServer, path: str) -> None:
    gzip_bomb()
    session = _session(hostile.url, deadline_s=30.0)
    started = time.monotonic()
    with pytest.raises(BodyTooLarge, match="over the cap of 65536 bytes"):
        session.get(f"{hostile.url}{path}", timeout=10)
    assert time.monotonic() - started < 10


def test_a_small_answer_is_read_whole(hostile: HostileServer) -> None:
    response = _session(hostile.url).get(f"{hostile.url}/ok", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"ok": True}


# VmHWM, the probe's own peak (ru_maxrss would carry the xdist worker's across fork and exec).
MEMORY_PROBE = """
import sys
from promorang_gate.contract.spec import DocumentedPaths
from promorang_gate.contract.transport import BodyTooLarge, guarded_session

session = guarded_session(sys.argv[1], DocumentedPaths(["GET /huge"]), lambda m, u: None)
try:
    session.get(sys.argv[1] + "/huge?bytes=1073741824&chunked=1", timeout=30)
except BodyTooLarge as exc:
    print("refused:", exc)
with open("/proc/self/status") as status:
    print("maxrss_kb", next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")))
"""


def test_a_1_gb_body_on_the_contract_path_keeps_memory_bounded(hostile: HostileServer) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, hostile.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("refused:"), lines
    assert int(lines[-1].split()[1]) < 300 * 1024
