"""Each gate run appends its point to the Allure history (``reports/history.jsonl``), so the
report's Trend grows with every run, not only with every render. The point is computed by
Allure's own code (``scripts/allure-render.mjs --history-only``), named after the run: rendering
that run later shows it once and appends nothing. Without Node.js or the pinned Allure installed
(``promorang-gate report`` installs it) the run says so in one line and keeps its verdict.

Loading Allure takes Node about half a second, which every run waited for after its last test:
the process is started when the tests start (``start_history``), loads Allure while they run,
and appends only when told (``PendingHistory.finish``); a run that reaches no verdict ends it
unused (``cancel``), and a run that dies closes its pipe, on which the script exits unused."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from promorang_gate.reporting.report_render import (
    CONFIG,
    GATE_REPORTS_VARIABLE,
    HISTORY_VARIABLE,
    RENDER_SCRIPT,
)

__all__ = ["HISTORY_FILE", "PendingHistory", "append_history", "start_history"]

HISTORY_FILE = "history.jsonl"
TIMEOUT_S = 120.0
# What the script waits for on its standard input before it appends (allure-render.mjs).
GO = "append\n"


class PendingHistory:
    """A history point to append: the loaded script, or the line saying why there is none."""

    def __init__(self, history: Path, proc: subprocess.Popen[str] | None, note: str = "") -> None:
        self.history = history
        self._proc = proc
        self._note = note

    def finish(self) -> str:
        """Append the run's point (its results are complete now); one line saying what happened."""
        proc, self._proc = self._proc, None
        if proc is None:
            return self._note
        try:
            _, stderr = proc.communicate(GO, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            _end(proc)
            return f"Allure history: not appended to {self.history} ({type(error).__name__})"
        if proc.returncode != 0:
            last = (stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            return f"Allure history: not appended to {self.history} ({last[:200]})"
        return self._note

    def cancel(self) -> None:
        """End the script unused: the run reached no verdict (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc)


def _end(proc: subprocess.Popen[str]) -> None:
    # Killed, not asked: it has not been told to append, so it has written nothing.
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


def start_history(
    rootdir: Path,
    results: Path,
    history: Path,
    run_id: str,
    environ: Mapping[str, str] | None = None,
) -> PendingHistory:
    """Start the script that will append the run's point to ``history``, loading Allure now."""
    environ = dict(os.environ if environ is None else environ)
    node = shutil.which("node", path=environ.get("PATH", os.defpath))
    installed = (rootdir / "node_modules" / "@allurereport" / "core" / "package.json").is_file()
    if node is None or not installed or not (rootdir / RENDER_SCRIPT).is_file():
        return PendingHistory(
            history,
            None,
            f"Allure history: not appended to {history} (Node.js and the pinned Allure are"
            " needed: `promorang-gate report` installs it)",
        )
    env = {**environ, HISTORY_VARIABLE: str(history), GATE_REPORTS_VARIABLE: str(history.parent)}
    command = [node, str(rootdir / RENDER_SCRIPT), "--history-only", "--run-id", run_id]
    command += ["--when-told", "--config", str(rootdir / CONFIG), str(results)]
    try:
        proc = subprocess.Popen(
            command,
            cwd=rootdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Not in the terminal's process group: a Ctrl-C is the gate's to handle; if the gate
            # dies, the closed pipe ends the script.
            start_new_session=True,
        )
    except OSError as error:
        return PendingHistory(
            history, None, f"Allure history: not appended to {history} ({type(error).__name__})"
        )
    return PendingHistory(history, proc, f"Allure history: run {run_id} appended to {history}")


def append_history(
    rootdir: Path,
    results: Path,
    history: Path,
    run_id: str,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Append the run's point now; one line saying what happened."""
    return start_history(rootdir, results, history, run_id, environ).finish()
