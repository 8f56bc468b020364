"""Readiness: a deployment still warming up is not reported red too early; one that never
comes up is reported red once the environment's readiness budget is spent."""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HEALTH_ONLY = ("smoke/test_health.py",)


def test_health_that_recovers_within_the_budget_passes(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    sandbox.set_faults(["health_down"])
    # The fault is lifted while the gate is already polling: well inside the 8 s budget.
    recovery = threading.Timer(2.0, sandbox.set_faults, args=([],))
    recovery.start()
    try:
        run = run_gate_inprocess(HEALTH_ONLY)
    finally:
        recovery.cancel()
        sandbox.set_faults([])
    # (The run covers health only, so the default gate blocks on everything else.)
    assert run.items()["health.api"]["status"] == "passed", run.output


def test_health_that_never_recovers_is_red_after_the_budget(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    sandbox.set_faults(["health_down"])
    try:
        run = run_gate_inprocess(HEALTH_ONLY)
    finally:
        sandbox.set_faults([])
    item = run.items()["health.api"]
    assert item["status"] == "failed"
    assert "attempt" in item["reason"], item["reason"]
