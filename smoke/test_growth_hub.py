"""Checklist Before Launching New Growth Hub Feature (runbook section 8): the one item a machine
can check. The others are manual and need a sign-off."""

from __future__ import annotations

import pytest

from _support import EXPECTED_MIGRATIONS
from promorang_gate.stored import StoredState

pytestmark = pytest.mark.growth_hub


@pytest.mark.checklist("growth_hub.migrations_applied")
def test_expected_migrations_are_recorded(gate_stored: StoredState) -> None:
    versions = gate_stored.recorded_migrations()
    if versions is None:
        pytest.skip("migration history needs a database URL (GATE_<ENV>_DATABASE_URL)")
    missing = [v for v in EXPECTED_MIGRATIONS if v not in versions]
    assert not missing, f"migrations not applied: {missing}"
