"""Nothing left behind, never silently: what the cleanup ledger missed is found by the
end-of-run sweep, reported and removed."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from project_helpers import tagged_counts

pytestmark = pytest.mark.slow


def test_an_upload_stored_elsewhere_is_reported_and_removed(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    sandbox.set_faults(["upload_path_mismatch"])
    try:
        run = run_gate_inprocess(("-m", "create_flow"))
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


def test_a_healthy_run_leaves_nothing_for_the_sweep(sandbox: Any, run_gate_inprocess: Any) -> None:
    sandbox.set_faults([])
    run = run_gate_inprocess(("-m", "create_flow"))
    assert run.returncode == 0, run.output
    assert run.gate()["leftovers"] == {"found": [], "removed": [], "not_removed": []}


def test_a_create_that_fails_after_committing_leaves_no_row(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    """Build H answers 500 after committing the row: the contract finds the row by its tagged
    title through the service role and names the defect; nothing of the run stays behind."""
    sandbox.set_faults(["create_500_after_commit"])
    try:
        run = run_gate_inprocess(("contract", "-m", "contract"))
    finally:
        sandbox.set_faults([])
    data = run.gate()
    create = run.items()["contract.create_content"]
    assert create["status"] == "failed", run.output
    assert "after committing the row: a retry duplicates it" in create["reason"], create
    assert data["leftovers"]["not_removed"] == [], run.output
    assert tagged_counts(sandbox.state.database_url, data["run_id"]) == (0, 0)


def _stored(database_url: str) -> tuple[int, int, int, int]:
    """Every content row, share position and stored object, tagged or not, and the objects
    stored under the API's own fallback name (``content-<ms>.jpg``)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = [
            conn.execute(query).fetchone()
            for query in (
                "select count(*) from public.content_items",
                "select count(*) from public.content_share_positions",
                "select count(*) from storage.objects",
                r"select count(*) from storage.objects where name ~ '-content-\d+\.jpg$'",
            )
        ]
    a, b, c, d = (row[0] if row else -1 for row in counts)
    return a, b, c, d


def test_invalid_inputs_a_lax_build_stores_leave_nothing(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    """Builds B and H store a create whose title is no string (``[null, null]``, ``{}``) and an
    upload whose ``fileName`` is ``0`` or ``false`` (as ``content-<ms>.jpg``): the run tag
    goes in the description and the PNG's bytes, so the ledger proves them the run's and
    removes them. The database before and after, untagged rows and objects counted too."""
    before = _stored(sandbox.state.database_url)
    sandbox.set_faults(["accepts_wrong_types"])
    try:
        run = run_gate_inprocess(("contract", "-k", "test_invalid_input_is_refused"))
    finally:
        sandbox.set_faults([])
    assert run.failed_items() == {"contract.create_content", "contract.upload_image"}, run.output
    # The build took them: that is what there was to clean up.
    assert "answered 201 to invalid input (title: Incorrect type: [null, null])" in run.output
    assert "answered 201 to invalid input (fileName: Incorrect type: false)" in run.output
    assert "error in teardown" not in run.output
    assert run.gate()["leftovers"]["not_removed"] == [], run.output
    assert _stored(sandbox.state.database_url) == before
