"""Checklist Before Launching New Growth Hub Feature (runbook section 8): what the release's
repository and the target's migration ledger show. The other items are manual and need a
sign-off."""

from __future__ import annotations

from pathlib import Path

import pytest

from promorang_gate.fixtures import GateMetrics
from promorang_gate.release.app_repo import AppRepo, ReleaseDate
from promorang_gate.release.launch_evidence import check_api_docs, check_rollback_plan
from promorang_gate.release.migrations import Ledger, check_ledger, read_migrations
from promorang_gate.target.environments import Target

pytestmark = pytest.mark.growth_hub

CONTRACT = Path(__file__).resolve().parent.parent / "contract" / "openapi.yaml"


@pytest.mark.checklist("growth_hub.migrations_applied")
def test_every_repo_migration_is_applied_as_written(
    gate_app_repo: AppRepo, gate_migration_ledger: Ledger, gate_target: Target
) -> None:
    check_ledger(read_migrations(gate_app_repo.path), gate_migration_ledger, gate_target.name)


@pytest.mark.checklist("growth_hub.api_docs")
def test_api_docs_document_every_operation_and_growth_hub_route(
    gate_app_repo: AppRepo, gate_metrics: GateMetrics
) -> None:
    operations, growth_routes = check_api_docs(gate_app_repo.path, CONTRACT)
    gate_metrics.record("documented", {"contract": operations, "growth_hub": growth_routes})


@pytest.mark.checklist("growth_hub.rollback_plan")
def test_release_notes_document_the_rollback(
    gate_app_repo: AppRepo, gate_release_date: ReleaseDate
) -> None:
    check_rollback_plan(gate_app_repo.path, str(gate_release_date), gate_release_date.source)
