"""No false red: twenty consecutive healthy runs of the engineers' gate with two workers never
block."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

RUNS = 20


def test_twenty_parallel_healthy_runs_never_block(sandbox: Any, run_gate: Any) -> None:
    sandbox.set_faults([])
    verdicts = []
    for attempt in range(RUNS):
        run = run_gate(["-m", "create_flow", "-n", "2"])
        verdicts.append(run.gate()["verdict"])
        assert run.returncode == 0, f"run {attempt + 1} of {RUNS} blocked:\n{run.output}"
    assert verdicts == ["allow"] * RUNS
