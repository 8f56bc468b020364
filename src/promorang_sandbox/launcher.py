"""Start the sandbox as a subprocess (``python -m promorang_sandbox up``) and drive it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .errors import SandboxError, SandboxStartError
from .state import SandboxState

POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 20.0
LOG_TAIL_CHARS = 4000
ADMIN_TIMEOUT_S = 30.0


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return text[-LOG_TAIL_CHARS:].strip() or "(empty log)"


def _answers(state: SandboxState) -> bool:
    """The API server answers /api/health (any status: health_down is a fault, not a failure);
    when health is slow on purpose, the admin endpoint stands in."""
    try:
        # Plain HTTP on loopback: no TLS context (loading the CA bundle costs more than the poll).
        httpx.get(f"{state.api_url}/api/health", timeout=1.0, verify=False)
    except httpx.TimeoutException:
        pass
    except httpx.HTTPError:
        return False
    else:
        return True
    try:
        resp = httpx.get(
            f"{state.admin_url}/__sandbox/faults",
            headers={"Authorization": f"Bearer {state.admin_token}"},
            timeout=1.0,
        )
    except httpx.HTTPError:
        return False
    return resp.status_code == 200


class SandboxHandle:
    """A running sandbox: its state, admin calls, and ``stop()`` (idempotent)."""

    def __init__(
        self,
        state: SandboxState,
        process: subprocess.Popen[bytes] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.state = state
        self.process = process
        self.workdir = workdir
        self.log_path = workdir / "sandbox.log" if workdir is not None else None
        self._signalled = False
        self._admin = httpx.Client(
            base_url=state.admin_url,
            headers={"Authorization": f"Bearer {state.admin_token}"},
            timeout=ADMIN_TIMEOUT_S,
            verify=False,  # plain HTTP on loopback, like the readiness poll
        )

    @classmethod
    def attach(cls, state_file: str | os.PathLike[str]) -> SandboxHandle:
        """A handle on a sandbox someone else started; ``stop()`` leaves it running."""
        return cls(SandboxState.from_file(state_file))

    # admin endpoint ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        resp = self._admin.request(method, path, json=json)
        if resp.status_code != 200:
            raise SandboxError(f"{method} {path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    def set_faults(self, names: Iterable[str]) -> list[str]:
        """Replace the active faults (unknown names raise UnknownFault before any call)."""
        from .faults import validate  # psycopg with it: not needed to spawn or stop a sandbox

        wanted = list(validate(names))
        faults: list[str] = self._call("PUT", "/__sandbox/faults", {"faults": wanted})["faults"]
        return faults

    def faults(self) -> list[str]:
        faults: list[str] = self._call("GET", "/__sandbox/faults")["faults"]
        return faults

    def requests(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/__sandbox/requests")
        return items

    def clear_requests(self) -> None:
        self._call("DELETE", "/__sandbox/requests")

    # lifecycle --------------------------------------------------------------------------------

    @property
    def owned(self) -> bool:
        return self.process is not None

    def log(self) -> str:
        return _tail(self.log_path) if self.log_path is not None else ""

    def begin_stop(self) -> None:
        """SIGTERM the process group and return: it shuts down while the caller finishes its
        own work; ``stop()`` then waits for it."""
        self._admin.close()
        if self.process is not None and not self._signalled:
            self._signalled = True
            _signal(self.process, signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM the process group, wait, SIGKILL as a last resort; remove the work dir."""
        self._admin.close()
        proc, self.process = self.process, None
        if proc is not None:
            _terminate(proc, self._signalled)
        workdir, self.workdir = self.workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _terminate(proc: subprocess.Popen[bytes], signalled: bool = False) -> None:
    if proc.poll() is not None:
        return
    if not signalled:
        _signal(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)


def start_sandbox(
    faults: Iterable[str] = (),
    ready_timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    extra_args: Iterable[str] = (),
) -> SandboxHandle:
    """Spawn ``promorang-sandbox up`` and return once its API answers; SandboxStartError if not."""
    return spawn_sandbox(faults, ready_timeout_s, env, extra_args).wait()


def spawn_sandbox(
    faults: Iterable[str] = (),
    ready_timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    extra_args: Iterable[str] = (),
) -> SandboxLaunch:
    """Spawn ``promorang-sandbox up`` and return at once: the caller does other work while the
    sandbox starts, then ``wait()``s for it (the readiness deadline counts from now)."""
    workdir = Path(tempfile.mkdtemp(prefix="promorang-sandbox-"))
    state_file = workdir / "state.json"
    log_path = workdir / "sandbox.log"
    cmd = [sys.executable, "-m", "promorang_sandbox", "up", "--state-file", str(state_file)]
    cmd += ["--ready-timeout", str(ready_timeout_s), "--parent-pid", str(os.getpid())]
    for name in faults:
        cmd += ["--fault", name]
    cmd += list(extra_args)
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return SandboxLaunch(proc, workdir, time.monotonic() + ready_timeout_s, ready_timeout_s)


class SandboxLaunch:
    """A sandbox process that is starting: ``wait()`` for its handle, or ``cancel()`` it."""

    def __init__(
        self, process: subprocess.Popen[bytes], workdir: Path, deadline: float, timeout_s: float
    ) -> None:
        self.process = process
        self.workdir = workdir
        self._deadline = deadline
        self._timeout_s = timeout_s

    def wait(self) -> SandboxHandle:
        """The running sandbox; SandboxStartError (its log's tail) when it exits or misses the
        deadline, and then nothing of it is left."""
        try:
            state = _wait_ready(
                self.process,
                self.workdir / "state.json",
                self.workdir / "sandbox.log",
                self._deadline,
                self._timeout_s,
            )
        except BaseException as exc:
            self.cancel()
            if isinstance(exc, SandboxStartError):
                exc.workdir = self.workdir
            raise
        return SandboxHandle(state, self.process, self.workdir)

    def cancel(self) -> None:
        """Stop the process (it drops what it created) and remove its work dir."""
        _terminate(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_ready(
    proc: subprocess.Popen[bytes],
    state_file: Path,
    log_path: Path,
    deadline: float,
    timeout_s: float,
) -> SandboxState:
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise SandboxStartError(
                f"sandbox exited with code {code} before it was ready; log:\n{_tail(log_path)}"
            )
        if state_file.exists():
            state = SandboxState.from_file(state_file)
            if _answers(state):
                return state
        time.sleep(POLL_INTERVAL_S)  # poll interval, bounded by the deadline
    _terminate(proc)
    raise SandboxStartError(f"sandbox not ready within {timeout_s} s; log:\n{_tail(log_path)}")
