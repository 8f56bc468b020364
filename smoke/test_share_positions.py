"""`content_share_positions` migration applied (the table is there, and the ledger records the
release's migration as written); verify initial mint (exactly one position for the creator,
holding every share)."""

from __future__ import annotations

from typing import Any

import pytest

from _support import UUID_PATTERN, content_payload
from promorang_gate.release.app_repo import AppRepo
from promorang_gate.release.migrations import (
    Ledger,
    check_recorded,
    positions_migration,
    read_migrations,
)
from promorang_gate.target.stored import POSITIONS_COLUMNS, StoredState

pytestmark = pytest.mark.create_flow


@pytest.mark.checklist("create_flow.share_positions")
def test_positions_table_has_its_columns(gate_stored: StoredState) -> None:
    columns = gate_stored.positions_columns()
    missing = set(POSITIONS_COLUMNS) - columns
    assert not missing, (
        f"content_share_positions lacks columns {sorted(missing)} ({gate_stored.through})"
    )


@pytest.mark.checklist("create_flow.share_positions")
def test_positions_migration_is_applied_as_in_the_repo(
    gate_app_repo: AppRepo, gate_migration_ledger: Ledger, gate_target: Any
) -> None:
    migration = positions_migration(read_migrations(gate_app_repo.path))
    assert migration is not None, (
        f"no migration in {gate_app_repo.describe()} creates content_share_positions"
    )
    check_recorded(migration, gate_migration_ledger, gate_target.name)


@pytest.mark.checklist("create_flow.share_positions")
def test_create_mints_exactly_one_initial_position(
    gate_api: Any, gate_ledger: Any, gate_run_id: str, gate_stored: StoredState
) -> None:
    payload = content_payload(gate_run_id, title="Smoke Mint Check")
    created = gate_api.post("/api/content", json=payload)
    assert created.status_code == 201, f"create answered {created.status_code}: {created.text}"
    body = created.json()
    content = body.get("content") or {}
    content_id = str(content.get("id", ""))
    assert UUID_PATTERN.match(content_id), f"create returned id {content_id!r}, not a UUID"
    gate_ledger.content(content_id)

    positions = gate_stored.positions(content_id)
    assert len(positions) == 1, (
        f"select count(*) from content_share_positions where content_id = '{content_id}' "
        f"gives {len(positions)}, expected 1 (minted_shares: {body.get('minted_shares')!r})"
    )
    total_shares = payload["total_shares"]
    assert positions[0]["shares_owned"] == float(total_shares), (
        f"shares_owned {positions[0]['shares_owned']} differs from total_shares {total_shares}"
    )
    creator = content.get("creator_id")
    if creator:
        assert positions[0]["holder_id"] == creator, "the position is not held by the creator"
