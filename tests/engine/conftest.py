"""Helpers of the engine tests: a temp project with the shipped checklists and a clean env."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from engine_helpers import LOCAL_SECRET


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No GATE_* or sandbox variable of the developer's shell leaks into a test. The inner suites
    point at hosts that are not up, so the reachability check is off (test_preflight.py turns
    it back on)."""
    for name in list(os.environ):
        if name.startswith("GATE_") or name == "PROMORANG_SANDBOX_STATE":
            monkeypatch.delenv(name)
    for env in ("LOCAL", "STAGING", "PROD"):
        monkeypatch.setenv(f"GATE_{env}_PREFLIGHT", "false")
    return monkeypatch


@pytest.fixture
def project(
    pytester: pytest.Pytester, repo_root: Path, clean_env: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A temp project: the repo's checklists, an empty ini, the local env's secret set."""
    shutil.copytree(repo_root / "checklists", pytester.path / "checklists")
    # As in pyproject.toml: these plugins cost seconds per in-process run and no test uses them.
    pytester.makeini(
        "[pytest]\naddopts = -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest"
        " -p no:anyio\n"
    )
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", LOCAL_SECRET)
    return pytester
