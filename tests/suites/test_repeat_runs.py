"""No false red: repeated healthy runs of each command people type never block.

A false red comes from one of two places. A check can misjudge a healthy target; every command
below runs the Create flow's checks (the full gate runs them and the rest), so every healthy run
is a trial of them: twenty clean runs out of twenty rule out, at 95 % confidence, a false-red
rate of those checks above 13.9 % per run (1 - 0.05^(1/20); the rule of three gives 3/20 =
15 %). The full gate's other checks are green in its five runs here and in every fault row that
does not break them (a row fails if any item besides its fault's goes red). Or a command's own
machinery can:
two workers splitting the Create flow, sharing one target. Ten clean `-n 2` runs rule that out
above 25.9 %; the serial commands, five each (and their healthy rows in the matrix), above
39.3 % (six runs). Twenty `-n 2` runs alone cost two fifths more CPU than these twenty, on a
machine where the whole test run is bound by CPU.

Every run's pytest (the `-n 2` runs' controller) runs in the worker's process, as the fault
matrix's rows do; the `-n 2` runs' two workers are processes of their own, started by xdist as
in any such run. Each run is a test of its own, so that the project's workers share them."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

CONFIDENCE = 0.95
# command -> healthy runs; the engineers' recipe with two workers, the engineers' recipe, and
# the README's main job (the gate `full`).
RUNS: dict[str, tuple[tuple[str, ...], int]] = {
    "create_flow -n 2": (("-m", "create_flow", "-n", "2"), 10),
    "create_flow": (("-m", "create_flow"), 5),
    "full": ((), 5),
}
ATTEMPTS = [(name, n) for name, (_, runs) in RUNS.items() for n in range(1, runs + 1)]


def ruled_out_rate(clean_runs: int, confidence: float = CONFIDENCE) -> float:
    """The smallest per-run false-red rate that ``clean_runs`` clean runs rule out."""
    return float(1 - (1 - confidence) ** (1 / clean_runs))


def test_the_runs_rule_out_the_rates_the_readme_states() -> None:
    pooled = sum(runs for _, runs in RUNS.values())
    assert pooled == 20
    assert round(ruled_out_rate(pooled), 3) == 0.139
    assert round(ruled_out_rate(RUNS["create_flow -n 2"][1]), 3) == 0.259
    # Five runs here and the matrix's healthy row of the same command.
    assert round(ruled_out_rate(RUNS["create_flow"][1] + 1), 3) == 0.393


@pytest.mark.parametrize(("command", "attempt"), ATTEMPTS, ids=[f"{c}-{n}" for c, n in ATTEMPTS])
def test_healthy_runs_never_block(
    run_gate_inprocess: Any, sandbox: Any, command: str, attempt: int
) -> None:
    args, runs = RUNS[command]
    sandbox.set_faults([])
    run = run_gate_inprocess(args)
    assert run.returncode == 0, f"`pytest {command}` run {attempt} of {runs} blocked:\n{run.output}"
    assert run.gate()["verdict"] == "allow", run.output
    statuses = {item["status"] for item in run.items().values()}
    assert statuses <= {"passed", "manual_signed"}, statuses
