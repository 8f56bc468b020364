"""Fixtures of the smoke suite only; the engine's `gate_*` fixtures do the heavy lifting."""

from __future__ import annotations

from typing import Any

import pytest

from _support import StoredState


@pytest.fixture
def stored(request: pytest.FixtureRequest, gate_db: Any) -> StoredState:
    """Read-back of what the deployment stored; the Supabase client is made only if needed."""
    return StoredState(gate_db, lambda: request.getfixturevalue("gate_supabase"))
