"""Criteria are part of the decision: criteria changed in a commit are caught against the
protected branch (``verdict --criteria-from REF``), and a gate cut below the runbook checklists
its description names is flagged ``criteria_narrowed`` (only ``--accept-flags`` passes it)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from promorang_gate.decision.verdict_file import Exit

HEALTH_API = """
import pytest

@pytest.mark.checklist("health.api")
def test_api(gate_target):
    pass
"""

HEALTHY = """
import pytest

@pytest.mark.checklist("health.api", "health.frontend")
def test_health(gate_target):
    pass
"""


def _verdict(project: pytest.Pytester, *args: str) -> Any:
    environ = {k: v for k, v in os.environ.items() if k != "GITHUB_RUN_ID"}
    proc = subprocess.run(
        [sys.executable, "-m", "promorang_gate.cli", "verdict", "reports", "--env", "local", *args],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
        env=environ,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 1, proc.stderr
    return proc


def _git(project: pytest.Pytester, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=gate@example.com", "-c", "user.name=gate", *args],
        cwd=project.path,
        check=True,
        capture_output=True,
        timeout=30,
    )


def _gates(project: pytest.Pytester, text: str) -> None:
    (project.path / "checklists" / "gates.yaml").write_text(text, encoding="utf-8")


def test_a_gate_cut_below_the_checklists_it_names_is_flagged(project: pytest.Pytester) -> None:
    _gates(
        project,
        "gates:\n  health:\n    description: Every item of every checklist.\n"
        "    requires: [health]\n",
    )
    project.makepyfile(HEALTHY)
    result = project.runpytest("--env", "local")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["CRITERIA local: criteria_narrowed: gate 'health' requires 2 of*"])
    refused = _verdict(project)
    assert refused.returncode == Exit.OTHER_GATE_OR_CRITERIA
    assert "criteria_narrowed" in refused.stderr
    assert _verdict(project, "--accept-flags").returncode == Exit.ALLOW


def test_a_gate_requiring_what_it_names_is_not_flagged(project: pytest.Pytester) -> None:
    _gates(
        project,
        "gates:\n  health:\n    description: The Health checklist.\n    requires: [health]\n",
    )
    project.makepyfile(HEALTHY)
    result = project.runpytest("--env", "local")
    assert result.ret == pytest.ExitCode.OK
    assert "criteria_narrowed" not in result.stdout.str()


@pytest.mark.slow
@pytest.mark.parametrize("change", ["gates", "profile"])
def test_criteria_changed_in_a_commit_are_refused_against_the_protected_branch(
    project: pytest.Pytester, change: str
) -> None:
    project.makepyfile(HEALTH_API)
    _gates(project, "gates:\n  health: {requires: [health]}\n  api: {requires: [health.api]}\n")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "protected")
    _git(project, "branch", "protected")
    if change == "gates":
        # Narrowed and committed: no uncommitted edit for the run to flag.
        _gates(project, "gates:\n  health: {requires: [health.api]}\n")
    else:
        (project.path / "environments" / "local.toml").write_text('gate = "api"\n')
    _git(project, "commit", "-qam", "narrow")
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    assert _verdict(project, "--accept-flags").returncode == Exit.ALLOW
    refused = _verdict(project, "--accept-flags", "--criteria-from", "protected")
    assert refused.returncode == Exit.OTHER_GATE_OR_CRITERIA
    part = "checklists" if change == "gates" else "profiles"
    assert f"differ from protected: {part}" in refused.stderr
    assert _verdict(project, "--accept-flags", "--criteria-from", "main").returncode == Exit.ALLOW


def test_an_unknown_ref_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(HEALTHY)
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "x")
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    proc = _verdict(project, "--accept-flags", "--criteria-from", "no-such-branch")
    assert proc.returncode == Exit.USAGE
    assert "--criteria-from" in proc.stderr
