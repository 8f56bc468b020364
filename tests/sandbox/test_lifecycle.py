"""Start and stop leave nothing behind: no process, no database, no private cluster directory."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import promorang_sandbox.gateway
from promorang_sandbox import FAULTS, SandboxStartError, spawn_sandbox, start_sandbox
from promorang_sandbox.postgres import acquire_server
from promorang_sandbox.stack import Stack, StackOptions


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _databases(admin_dsn: str) -> set[str]:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select datname from pg_database where datname like 'promorang_sandbox_%'"
        ).fetchall()
    return {r[0] for r in rows}


def _admin_of(database_url: str) -> str:
    return make_conninfo(database_url, dbname="postgres")


@pytest.fixture(scope="module")
def admin_dsn() -> Iterator[str]:
    server = acquire_server()
    try:
        yield server.admin_dsn
    finally:
        server.stop()


@pytest.mark.slow  # starts and stops a sandbox of its own
def test_stop_leaves_nothing_behind() -> None:
    handle = start_sandbox()
    state = handle.state
    assert handle.process is not None
    pid = handle.process.pid
    dbname = conninfo_to_dict(state.database_url)["dbname"]
    assert dbname in _databases(_admin_of(state.database_url))
    assert httpx.get(f"{state.api_url}/api/health", timeout=10).status_code == 200
    handle.stop()
    handle.stop()  # idempotent
    assert not _alive(pid)
    assert not _group_alive(pid)
    assert dbname not in _databases(_admin_of(state.database_url))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{state.api_url}/api/health", timeout=5)


@pytest.mark.slow  # starts and stops a sandbox of its own
def test_private_cluster_is_removed() -> None:
    handle = start_sandbox(env={"PROMORANG_SANDBOX_PRIVATE_PG": "1"}, ready_timeout_s=60)
    with handle:
        match = re.search(r"initdb (\S+)/data", handle.log())
        assert match is not None, handle.log()
        cluster_dir = Path(match.group(1))
        assert cluster_dir.is_dir()
        token = {"Authorization": f"Bearer {handle.state.creator_token}"}
        listing = httpx.get(f"{handle.state.api_url}/api/content", headers=token, timeout=10)
        assert listing.status_code == 200
        assert handle.process is not None
        pid = handle.process.pid
    assert not _group_alive(pid)
    assert not cluster_dir.exists()


@pytest.mark.slow  # starts and stops a sandbox of its own
def test_sigint_shuts_down_cleanly_and_removes_the_state_file() -> None:
    handle = start_sandbox()
    assert handle.process is not None
    assert handle.workdir is not None
    proc, state_file = handle.process, handle.workdir / "state.json"
    assert state_file.exists()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert not state_file.exists()
    assert "Traceback" not in handle.log()
    handle.stop()


@pytest.mark.slow  # starts and stops two sandboxes of its own
def test_a_spawned_sandbox_starts_while_its_caller_works_and_a_cancel_leaves_nothing() -> None:
    started = time.monotonic()
    launch = spawn_sandbox()
    assert time.monotonic() - started < 0.5  # no wait for the stack
    assert launch.process.poll() is None
    pid, workdir = launch.process.pid, launch.workdir
    launch.cancel()
    assert not _group_alive(pid)
    assert not workdir.exists()
    with spawn_sandbox().wait() as handle:  # waited for: the same handle start_sandbox gives
        answer = httpx.get(f"{handle.state.api_url}/api/health", timeout=10)
        assert answer.status_code == 200
        assert handle.process is not None
        proc, database_url = handle.process, handle.state.database_url
        handle.begin_stop()  # returns at once; the sandbox stops by itself, cleanly
        handle.begin_stop()
        assert proc.wait(timeout=30) == 0
    assert not _group_alive(proc.pid)
    dbname = conninfo_to_dict(database_url)["dbname"]
    assert dbname not in _databases(_admin_of(database_url))


def test_the_launcher_loads_neither_the_database_driver_nor_the_servers() -> None:
    """A gate run spawns the sandbox as soon as its options are read: the package and its
    launcher import nothing heavy; the other public names load their modules on first use."""
    code = (
        "import sys, promorang_sandbox; from promorang_sandbox import spawn_sandbox; "
        "print(sorted(m for m in ('psycopg', 'uvicorn', 'starlette') if m in sys.modules)); "
        "promorang_sandbox.FAULTS; print('psycopg' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
    import promorang_sandbox

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        promorang_sandbox.nothing_here  # noqa: B018


def _left_behind(error: SandboxStartError, admin_dsn: str) -> list[str]:
    """What the failed start left: its work dir, a database its log names (other sandboxes of
    the test run may come and go meanwhile, so only this start's own are looked for)."""
    left = [str(error.workdir)] if Path(str(error.workdir)).exists() else []
    named = set(re.findall(r"database: (promorang_sandbox_[0-9a-f]+)", str(error)))
    return left + sorted(named & _databases(admin_dsn))


def test_unknown_fault_fails_with_the_log(admin_dsn: str) -> None:
    with pytest.raises(SandboxStartError) as info:
        start_sandbox(faults=["no_such_fault"], ready_timeout_s=20)
    message = str(info.value)
    assert "exited with code 2" in message
    assert "unknown fault(s): no_such_fault" in message
    assert "Traceback" not in message
    assert "database:" not in message  # refused before any database was made
    assert _left_behind(info.value, admin_dsn) == []


def test_port_in_use_fails_and_leaves_nothing(admin_dsn: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(SandboxStartError, match=r"(?s)exited with code 2.*in use") as info:
            start_sandbox(extra_args=["--api-port", str(port)], ready_timeout_s=20)
    assert _left_behind(info.value, admin_dsn) == []


def test_failure_after_the_database_exists_drops_it(
    admin_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(dsn: str, recorder: object) -> object:
        raise RuntimeError("gateway exploded")

    monkeypatch.setattr(promorang_sandbox.gateway, "create_gateway_app", broken)
    said: list[str] = []
    stack = Stack(StackOptions(log=said.append))
    with pytest.raises(RuntimeError, match="gateway exploded"):
        asyncio.run(stack.start())
    made = {line.split(": ", 1)[1] for line in said if line.startswith("database: ")}
    assert made, said  # the failure came after the database existed ...
    assert not made & _databases(admin_dsn)  # ... and it was dropped


def test_cli_lists_faults_and_reports_errors_in_one_line() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "promorang_sandbox", "faults"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for name in FAULTS:
        assert name in listed.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "promorang_sandbox", "up", "--fault", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "valid faults: health_down" in bad.stderr


def test_public_api_is_what_it_should_be() -> None:
    import promorang_sandbox

    assert set(promorang_sandbox.__all__) == {
        "FAULTS",
        "Fault",
        "PostgresUnavailable",
        "SandboxError",
        "SandboxHandle",
        "SandboxLaunch",
        "SandboxStartError",
        "SandboxState",
        "UnknownFault",
        "spawn_sandbox",
        "start_sandbox",
    }
    assert len(FAULTS) == 57
    for name in promorang_sandbox.__all__:  # each name loads from its module
        assert getattr(promorang_sandbox, name) is not None
