"""Helpers of the engine tests: a temp project with the shipped checklists and a clean env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from engine_helpers import LOCAL_SECRET

from project_helpers import copy_checklists


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


# One gate per shipped checklist, so an inner suite is judged on the checklist it exercises.
ENGINE_GATES = """
gates:
  health: {requires: [health]}
  create_flow: {requires: [create_flow]}
  monitoring: {requires: [monitoring]}
  growth_hub: {requires: [growth_hub]}
  contract: {requires: [contract]}
  suite: {requires: [create_flow, health, monitoring]}
  post_deploy: {requires: [health]}
  promotion: {requires: all}
  full: {requires: all}
"""


@pytest.fixture
def project(
    warm_gate_modules: None,
    pytester: pytest.Pytester,
    repo_root: Path,
    clean_env: pytest.MonkeyPatch,
) -> pytest.Pytester:
    """A temp project: the repo's checklists without their declared checks (inner suites claim
    items with tests of their own), a gate per checklist with `local` judged by `health`, an
    empty ini, the local env's secret set."""
    target = pytester.path / "checklists"
    copy_checklists(repo_root / "checklists", target)
    (target / "gates.yaml").write_text(ENGINE_GATES, encoding="utf-8")
    (pytester.path / "environments").mkdir()
    (pytester.path / "environments" / "local.toml").write_text('gate = "health"\n')
    # As in pyproject.toml: these plugins cost seconds per in-process run and no test uses them.
    pytester.makeini(
        "[pytest]\naddopts = -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest"
        " -p no:anyio\n"
    )
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", LOCAL_SECRET)
    return pytester
