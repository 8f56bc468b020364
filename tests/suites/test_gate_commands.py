"""The commands people actually type, against the sandbox: the verdict is the named gate's,
whatever the selection, and a narrowed or loosened run never passes for the whole gate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

# command -> (gate, verdict, exit code); the sandbox is healthy.
HEALTHY_TABLE: dict[str, tuple[tuple[str, ...], str, str, int]] = {
    "engineers": (("-m", "create_flow"), "create_flow", "allow", 0),
    "one file": (("smoke/test_health.py",), "full", "block", 1),
    "one suite": (("smoke",), "full", "block", 1),
    "a marker that is no gate": (("-m", "health"), "full", "block", 1),
}


def _verdict_cli(reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "promorang_gate.cli", "verdict", str(reports), *args]
    # From the checkout, whose checklists the file's criteria are checked against (an
    # in-process run leaves this process in pytester's temp dir).
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.parametrize("case", sorted(HEALTHY_TABLE))
def test_healthy_sandbox_under_each_command(
    sandbox: Any, run_gate_inprocess: Any, case: str
) -> None:
    args, gate, verdict, code = HEALTHY_TABLE[case]
    sandbox.set_faults([])
    run = run_gate_inprocess(args)
    assert run.returncode == code, run.output
    data = run.gate()
    assert (data["gate"]["name"], data["verdict"]) == (gate, verdict), run.output
    statuses = {item["status"] for item in run.items().values()}
    if verdict == "allow":
        assert statuses <= {"passed", "manual_signed"}
    else:
        assert "not_verified" in statuses
        assert "failed" not in statuses
        cli = _verdict_cli(run.reports, "--env", "sandbox", "--gate", gate)
        assert cli.returncode == 1, cli.stdout + cli.stderr


@pytest.mark.parametrize(
    "narrowing",
    [
        ("-k", "not latency and not rates"),
        ("--deselect", "smoke/test_slo.py"),
        ("--ignore", "smoke/test_slo.py"),
    ],
    ids=["-k", "--deselect", "--ignore"],
)
def test_narrowing_away_a_red_threshold_still_blocks(
    sandbox: Any, run_gate_inprocess: Any, narrowing: tuple[str, ...]
) -> None:
    sandbox.set_faults(["upload_slow"])
    try:
        run = run_gate_inprocess(("-m", "create_flow", *narrowing))
    finally:
        sandbox.set_faults([])
    assert run.returncode == 1, run.output
    items = run.items()
    assert run.gate()["verdict"] == "block"
    for item in ("slo.upload_latency_p95", "slo.upload_failure_rate"):
        assert items[item]["status"] == "not_verified", items[item]
        assert "smoke/test_slo.py::" in items[item]["reason"]


def test_a_loosened_budget_allows_but_is_flagged(sandbox: Any, run_gate_inprocess: Any) -> None:
    sandbox.set_faults(["upload_slow"])
    try:
        run = run_gate_inprocess(
            ("-m", "create_flow"), env={"GATE_SANDBOX_LATENCY_P95_BUDGET_S": "100"}
        )
    finally:
        sandbox.set_faults([])
    assert run.gate()["verdict"] == "allow", run.output
    assert any(
        f.startswith("latency_p95_budget_s is 100.0 (env:GATE_SANDBOX_LATENCY_P95_BUDGET_S)")
        for f in run.gate()["flags"]
    )
    assert "CRITERIA sandbox: latency_p95_budget_s is 100.0" in run.output


def test_collect_only_leaves_the_gate_file_byte_identical(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    sandbox.set_faults([])
    first = run_gate_inprocess(("-m", "create_flow"))
    before = {p.name: p.read_bytes() for p in first.reports.iterdir() if p.is_file()}
    collected = run_gate_inprocess(("--co", "-q"), reports=first.reports)
    assert collected.returncode == 0, collected.output
    after = {p.name: p.read_bytes() for p in first.reports.iterdir() if p.is_file()}
    # Only a marker is added: the run judged nothing, so the earlier file is not for reuse.
    assert after.pop(".gate-sandbox.running")
    assert after == before
    voided = _verdict_cli(first.reports, "--env", "sandbox", "--gate", "create_flow")
    assert voided.returncode == 5, voided.stderr
    assert "never reached a verdict (a --collect-only run reached no verdict)" in voided.stderr
