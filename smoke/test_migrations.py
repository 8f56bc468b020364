"""Supabase Migration Workflow (runbook section 2), step 4: "Test locally: `supabase db reset`".

The release's migrations must apply, in order, to a fresh database that has what a new Supabase
project has. Done on a throw-away database (never the engineer's local data), dropped after.
"""

from __future__ import annotations

from typing import Any

import pytest

from promorang_gate.fixtures import GateMetrics
from promorang_gate.release.app_repo import AppRepo
from promorang_gate.release.migration_chain import (
    CODE_DIRS,
    bucket_creation,
    missing_objects,
    reused_versions,
    used_objects,
)
from promorang_gate.release.migrations import read_migrations
from promorang_gate.release.scratch import ScratchUnavailable, apply_from_scratch

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


@pytest.mark.checklist("migrations.versions_unique")
def test_migration_versions_are_unique_and_never_reused(
    request: pytest.FixtureRequest, gate_app_repo: AppRepo, gate_metrics: GateMetrics
) -> None:
    files = read_migrations(gate_app_repo.path)
    assert files, f"{gate_app_repo.describe()} has no migration"
    try:  # the target's ledger, where the env has a database URL: names each version's file
        ledger = request.getfixturevalue("gate_migration_ledger")
    except pytest.skip.Exception:
        ledger = None
    gate_metrics.record("ledger_compared", ledger is not None)
    problems = reused_versions(files, ledger)
    assert not problems, f"{len(problems)} migration version(s) reused: " + "; ".join(problems)


@pytest.mark.checklist("migrations.tables_created")
def test_every_table_the_code_uses_is_created(
    gate_target: Any, gate_app_repo: AppRepo, gate_metrics: GateMetrics
) -> None:
    files = read_migrations(gate_app_repo.path)
    usage = used_objects(gate_app_repo.path)
    gate_metrics.record("tables_used", sorted(usage.tables))
    gate_metrics.record("functions_used", sorted(usage.functions))
    if not (usage.tables or usage.functions):
        pytest.skip(
            f"no .from('…') or .rpc('…') in {', '.join(f'{d}/' for d in CODE_DIRS)} of"
            f" {gate_app_repo.describe()}: nothing to check the chain against"
        )
    problems = missing_objects(usage, files, gate_target.external_tables.split(","))
    assert not problems, (
        f"{len(problems)} name(s) the backend uses that the migrations never create (declare"
        " deliberate ones in the profile's external_tables): " + "; ".join(problems)
    )


@pytest.mark.checklist("migrations.bucket_created")
def test_the_bucket_is_created_by_a_migration_or_a_documented_step(
    gate_target: Any, gate_app_repo: AppRepo, gate_metrics: GateMetrics
) -> None:
    files = read_migrations(gate_app_repo.path)
    where = bucket_creation(gate_app_repo.path, files, gate_target.bucket)
    assert where is not None, (
        f"no migration creates the bucket {gate_target.bucket!r} (storage.buckets) and no"
        " documented step (README.md, docs/, supabase/) names it: a fresh project has no bucket"
    )
    gate_metrics.record("bucket_created_by", where)
