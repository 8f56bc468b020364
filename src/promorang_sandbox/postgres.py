"""Find or start the PostgreSQL server the sandbox runs on.

Order: ``PROMORANG_SANDBOX_PG_DSN`` (an admin DSN), a server on 127.0.0.1:5432 as user
``postgres``, else a private throw-away cluster (``initdb`` into a temp dir, started on a free
port). ``PROMORANG_SANDBOX_PRIVATE_PG=1`` forces the private cluster.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from .errors import PostgresUnavailable

DSN_ENV = "PROMORANG_SANDBOX_PG_DSN"
PRIVATE_ENV = "PROMORANG_SANDBOX_PRIVATE_PG"
LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOT_FOUND = (
    "PostgreSQL not found: install it (e.g. apt-get install postgresql) "
    f"or set {DSN_ENV} to an admin connection string"
)
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class PostgresServer:
    """A PostgreSQL server reachable through ``admin_dsn``; ``private`` ones are ours to stop."""

    admin_dsn: str
    private: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _tempdir: str | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop a private cluster and remove its directory; no-op for external servers."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        tempdir, self._tempdir = self._tempdir, None
        if tempdir is not None:
            shutil.rmtree(tempdir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def tempdir(self) -> str | None:
        return self._tempdir

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(dsn: str, timeout_s: int = 2) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=timeout_s, autocommit=True) as conn:
            conn.execute("select 1")
    except psycopg.Error:
        return False
    return True


def acquire_server(log: Log | None = None) -> PostgresServer:
    """Return a PostgreSQL server the sandbox may create databases on."""
    say = log or _quiet
    dsn = os.environ.get(DSN_ENV)
    if dsn:
        if not _answers(dsn):
            raise PostgresUnavailable(f"{DSN_ENV} is set but its server does not answer")
        say(f"postgres: using {DSN_ENV}")
        return PostgresServer(admin_dsn=dsn)
    if os.environ.get(PRIVATE_ENV) != "1" and _answers(LOCAL_DSN):
        say("postgres: using the server on 127.0.0.1:5432")
        return PostgresServer(admin_dsn=LOCAL_DSN)
    return start_private_cluster(say)


def find_bindir() -> Path:
    """Directory holding ``initdb`` and ``postgres``, or PostgresUnavailable."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "postgres").is_file():
            return cand
    raise PostgresUnavailable(NOT_FOUND)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> dict[str, Any]:
    """subprocess kwargs that drop root, which PostgreSQL refuses to run as."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid}
    raise PostgresUnavailable("running as root and neither user 'postgres' nor 'nobody' exists")


def start_private_cluster(log: Log | None = None) -> PostgresServer:
    """initdb a throw-away cluster in a temp dir and start it on a free 127.0.0.1 port."""
    say = log or _quiet
    bindir = find_bindir()
    run_as = _run_as()
    tempdir = tempfile.mkdtemp(prefix="promorang-pg-")
    server = PostgresServer(admin_dsn="", private=True, _tempdir=tempdir)
    try:
        if run_as:
            os.chown(tempdir, run_as["user"], run_as["group"])
        datadir = os.path.join(tempdir, "data")
        say(f"postgres: initdb {datadir}")
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", datadir, "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, cwd=tempdir, timeout=120, **run_as,
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-2000:]}")
        port = _free_port()
        logfile = open(os.path.join(tempdir, "postgres.log"), "wb")  # noqa: SIM115
        with logfile:
            server._process = subprocess.Popen(
                [str(bindir / "postgres"), "-D", datadir, "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={tempdir}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "shared_buffers=32MB",
                 "-c", "max_connections=100"],
                stdout=logfile, stderr=subprocess.STDOUT, cwd=tempdir,
                start_new_session=True, **run_as,
            )  # fmt: skip
        server.admin_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _wait_ready(server, os.path.join(tempdir, "postgres.log"))
        say(f"postgres: private cluster on port {port}")
        return server
    except BaseException:
        server.stop()
        raise


def _wait_ready(server: PostgresServer, logpath: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    proc = server._process
    assert proc is not None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _answers(server.admin_dsn, timeout_s=1):
            return
        time.sleep(0.05)  # poll interval, bounded by the deadline
    try:
        tail = Path(logpath).read_text(errors="replace")[-2000:]
    except OSError:
        tail = ""
    raise PostgresUnavailable(f"private PostgreSQL did not become ready: {tail}")
