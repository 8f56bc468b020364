"""`promorang-gate watch` against the shared sandbox: healthy passes, a stop is never an allow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from watch_helpers import watch

from promorang_gate.watch.run import Exit

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_healthy_sandbox_allows(sandbox: Any, sandbox_state_file: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    extra = {"GITHUB_STEP_SUMMARY": str(summary)}
    code, output, data = watch(sandbox_state_file, tmp_path, extra=extra)
    assert code == Exit.ALLOW, output
    written = summary.read_text()
    assert written.startswith("earlier step\n### ✅ watch sandbox: ALLOW")
    assert "| `watch.error_rate` | passed |" in written
    assert data["verdict"] == "allow"
    statuses = {i["id"]: i["status"] for i in data["items"]}
    gating = {i["id"] for i in data["items"] if i["gating"]}
    assert {statuses[i] for i in gating} == {"passed"}
    assert statuses["watch.webhook_failures"] == "not_verified"
    assert len(data["intervals"]) >= 9
    assert data["windows"]["watch.error_rate"]["requests"] >= 20
    assert "WATCH sandbox: ALLOW" in output
    results = list((tmp_path / "allure-results").glob("*-result.json"))
    assert len(results) == len(data["items"])
    chart = next((tmp_path / "allure-results").glob("*-attachment.svg")).read_text()
    assert "<polyline" in chart
    # The first allowed watch has no baseline, and becomes the next one's.
    assert statuses["slo.no_regression"] == "not_verified"
    history = (tmp_path / "history" / "sandbox.jsonl").read_text().splitlines()
    assert len(history) == 1
    assert json.loads(history[0])["probes"]["all"]["samples"] == data["requests"]
    assert json.loads(history[0])["kind"] == "watch"  # the gate run's lines are kind "gate"
    code, output, again = watch(sandbox_state_file, tmp_path, duration=6)
    regression = next(i for i in again["items"] if i["id"] == "slo.no_regression")
    assert regression["judgements"][-1]["figures"]["baseline_p95_s"] > 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_ends_it_within_two_seconds_and_never_allows(
    sandbox: Any, sandbox_state_file: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    env = {**os.environ, "PROMORANG_SANDBOX_STATE": str(sandbox_state_file)}
    command = [sys.executable, "-m", "promorang_gate.cli", "watch", "--env", "sandbox"]
    command += ["--for", "60s", "--interval", "1s", "--reports", str(tmp_path)]
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("[") or not line:
            break
    proc.send_signal(signum)
    sent = time.monotonic()
    rest, _ = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0, rest
    assert proc.returncode == Exit.INTERRUPTED, rest
    data = json.loads((tmp_path / "watch-sandbox.json").read_text())
    assert data["verdict"] == "interrupted"
    assert data["stopped_by"] == signum.name
    assert data["intervals"]
