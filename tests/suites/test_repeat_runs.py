"""No false red: twenty consecutive healthy runs of the engineers' gate with two workers never
block.

Twenty clean runs out of twenty rule out, at 95 % confidence, a false-red rate above 14 % per
run (exactly: 1 - 0.05^(1/20) = 13.9 %; the rule of three gives 3/20 = 15 %); ten would only
rule out 26 %. They run in batches so that the project's workers share them, instead of one
worker running twenty in a row while the others wait at the end of the test run."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

RUNS = 20
BATCH = 5
COMMAND = ("-m", "create_flow", "-n", "2")


def ruled_out_rate(clean_runs: int, confidence: float = 0.95) -> float:
    """The smallest per-run false-red rate that ``clean_runs`` clean runs rule out."""
    return float(1 - (1 - confidence) ** (1 / clean_runs))


def test_twenty_runs_rule_out_a_false_red_rate_above_fifteen_percent() -> None:
    assert RUNS % BATCH == 0
    assert ruled_out_rate(RUNS) <= 0.15 < ruled_out_rate(RUNS - 2)


@pytest.mark.parametrize("batch", range(RUNS // BATCH), ids=lambda b: f"runs-{b * BATCH + 1}")
def test_twenty_parallel_healthy_runs_never_block(sandbox: Any, run_gate: Any, batch: int) -> None:
    sandbox.set_faults([])
    verdicts = []
    for attempt in range(batch * BATCH, (batch + 1) * BATCH):
        run = run_gate(list(COMMAND))
        verdicts.append(run.gate()["verdict"])
        assert run.returncode == 0, f"run {attempt + 1} of {RUNS} blocked:\n{run.output}"
    assert verdicts == ["allow"] * BATCH
