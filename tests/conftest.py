"""Shared helpers of the project's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The checkout, for tests that copy the shipped checklists or suites into a temp dir."""
    return REPO_ROOT
