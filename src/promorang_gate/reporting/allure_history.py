"""Each gate run appends its point to the Allure history (``reports/history.jsonl``), so the
report's Trend grows with every run, not only with every render. The point is computed by
Allure's own code (``scripts/allure-render.mjs --history-only``), named after the run: rendering
that run later shows it once and appends nothing. Without Node.js or the pinned Allure installed
(``promorang-gate report`` installs it) the run says so in one line and keeps its verdict."""

from __future__ import annotations

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

__all__ = ["HISTORY_FILE", "append_history"]

HISTORY_FILE = "history.jsonl"
TIMEOUT_S = 120.0


def append_history(
    rootdir: Path,
    results: Path,
    history: Path,
    run_id: str,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Append the run's point; one line saying what happened."""
    environ = dict(os.environ if environ is None else environ)
    node = shutil.which("node", path=environ.get("PATH", os.defpath))
    installed = (rootdir / "node_modules" / "@allurereport" / "core" / "package.json").is_file()
    if node is None or not installed or not (rootdir / RENDER_SCRIPT).is_file():
        return (
            f"Allure history: not appended to {history} (Node.js and the pinned Allure are"
            " needed: `promorang-gate report` installs it)"
        )
    env = {**environ, HISTORY_VARIABLE: str(history), GATE_REPORTS_VARIABLE: str(history.parent)}
    command = [node, str(rootdir / RENDER_SCRIPT), "--history-only", "--run-id", run_id]
    command += ["--config", str(rootdir / CONFIG), str(results)]
    try:
        proc = subprocess.run(
            command,
            cwd=rootdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"Allure history: not appended to {history} ({type(error).__name__})"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return f"Allure history: not appended to {history} ({last[:200]})"
    return f"Allure history: run {run_id} appended to {history}"
