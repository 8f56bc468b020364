"""Nothing left behind, never silently: what the cleanup ledger missed is found by the
end-of-run sweep, reported and removed."""

from __future__ import annotations

from typing import Any

import pytest

from project_helpers import tagged_counts

pytestmark = pytest.mark.slow


def test_an_upload_stored_elsewhere_is_reported_and_removed(sandbox: Any, run_gate: Any) -> None:
    sandbox.set_faults(["upload_path_mismatch"])
    try:
        run = run_gate(("-m", "create_flow"))
    finally:
        sandbox.set_faults([])
    data = run.gate()
    leftovers = data["leftovers"]
    assert leftovers["not_removed"] == []
    assert leftovers["removed"], run.output
    assert all(f"gate-{data['run_id']}" in what for what in leftovers["removed"])
    assert leftovers["found"] == leftovers["removed"]
    assert "the cleanup ledger missed" in run.output
    assert tagged_counts(sandbox.state.database_url, data["run_id"]) == (0, 0)
    assert run.failed_items() == {"create_flow.upload_image"}


def test_a_healthy_run_leaves_nothing_for_the_sweep(sandbox: Any, run_gate: Any) -> None:
    sandbox.set_faults([])
    run = run_gate(("-m", "create_flow"))
    assert run.returncode == 0, run.output
    assert run.gate()["leftovers"] == {"found": [], "removed": [], "not_removed": []}


def test_a_create_that_fails_after_committing_leaves_no_row(sandbox: Any, run_gate: Any) -> None:
    """Build H answers 500 after committing the row: the contract finds the row by its tagged
    title through the service role and names the defect; nothing of the run stays behind."""
    sandbox.set_faults(["create_500_after_commit"])
    try:
        run = run_gate(("contract", "-m", "contract"))
    finally:
        sandbox.set_faults([])
    data = run.gate()
    create = run.items()["contract.create_content"]
    assert create["status"] == "failed", run.output
    assert "after committing the row: a retry duplicates it" in create["reason"], create
    assert data["leftovers"]["not_removed"] == [], run.output
    assert tagged_counts(sandbox.state.database_url, data["run_id"]) == (0, 0)
