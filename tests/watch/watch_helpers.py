"""Runs `promorang-gate watch` in-process against a sandbox, for the watch's tests."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from promorang_gate.watch.run import WatchOptions, run_watch

REPO = Path(__file__).resolve().parents[2]


def watch(
    state_file: Path,
    reports: Path,
    duration: float = 10,
    env: str = "sandbox",
    extra: dict[str, str] | None = None,
    **kw: Any,
) -> tuple[int, str, dict[str, Any]]:
    out = io.StringIO()
    options = WatchOptions(
        env=env,
        duration_s=duration,
        interval_s=kw.pop("interval_s", 1.0),
        rootdir=REPO,
        reports=reports,
        sandbox_state=str(state_file),
        **kw,
    )
    code = run_watch(options, out=out, install_signals=False, environ=_environ(extra))
    data = json.loads((reports / f"watch-{env}.json").read_text())
    return code, out.getvalue(), data


def _environ(extra: dict[str, str] | None) -> dict[str, str]:
    """The process's variables without any GATE_ setting, plus the test's own."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("GATE_")}, **(extra or {})}
