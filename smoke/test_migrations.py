"""Supabase Migration Workflow (runbook section 2), step 4: "Test locally: `supabase db reset`".

The release's migrations must apply, in order, to a fresh database that has what a new Supabase
project has. Done on a throw-away database (never the engineer's local data), dropped after.
"""

from __future__ import annotations

import pytest

from promorang_gate.app_repo import AppRepo
from promorang_gate.fixtures import GateMetrics
from promorang_gate.migrations import read_migrations
from promorang_gate.scratch import ScratchUnavailable, apply_from_scratch

pytestmark = pytest.mark.migrations


@pytest.mark.checklist("migrations.apply_from_scratch")
def test_migrations_apply_to_a_fresh_database(
    gate_app_repo: AppRepo, gate_metrics: GateMetrics
) -> None:
    files = read_migrations(gate_app_repo.path)
    assert files, f"{gate_app_repo.describe()} has no migration to apply"
    try:
        result = apply_from_scratch(files)
    except ScratchUnavailable as exc:
        pytest.skip(str(exc))
    gate_metrics.record("app_repo", gate_app_repo.describe())
    gate_metrics.record("migrations_applied", len(result.applied))
    gate_metrics.record("scratch_apply_s", round(result.elapsed_s, 3))
    result.raise_for_failure()
    assert len(result.applied) == len(files)
