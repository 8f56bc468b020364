"""A gate file belongs to one run: a file from the future, from another run, left behind by a
run that judged nothing, edited by hand (with a signing key set), or malformed at any depth or
size is refused by ``promorang-gate verdict`` with one line and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promorang_gate.decision.verdict_file import Exit

HEALTHY = """
import pytest
from pathlib import Path

@pytest.mark.checklist("health.api", "health.frontend")
def test_health(gate_target):
    pass
"""

KEY = "per-run-signing-key-7c1e"


@pytest.fixture
def judged(project: pytest.Pytester) -> pytest.Pytester:
    """`local` just judged ALLOW by the gate `health`."""
    project.makepyfile(HEALTHY)
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    return project


CI_VARIABLES = ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_ACTIONS")
VERDICT = [sys.executable, "-m", "promorang_gate.cli", "verdict", "reports", "--env", "local"]


def _verdict(project: pytest.Pytester, *args: str, env: dict[str, str] | None = None) -> Any:
    environ = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    environ.update(env or {})
    proc = subprocess.run(
        [*VERDICT, "--accept-flags", *args],
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


def _edit(project: pytest.Pytester, change: Callable[[dict[str, Any]], None]) -> None:
    path = project.path / "reports" / "gate-local.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_file_finished_in_the_future_is_refused(judged: pytest.Pytester) -> None:
    _edit(judged, lambda d: d.update(finished_at="2099-01-01T00:00:00Z"))
    proc = _verdict(judged)
    assert proc.returncode == Exit.STALE
    assert "is in the future" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [("--collect-only", "-q"), ("--gate", "nope"), ("--env", "moon")],
    ids=["collect-only", "unknown-gate", "unknown-env"],
)
def test_a_run_that_judged_nothing_voids_the_previous_file(
    judged: pytest.Pytester, args: tuple[str, ...]
) -> None:
    assert _verdict(judged).returncode == Exit.ALLOW
    full = args if "--env" in args else ("--env", "local", *args)
    judged.runpytest(*full)
    proc = _verdict(judged)
    assert proc.returncode == Exit.STALE, proc.stderr
    assert "never reached a verdict" in proc.stderr
    # The next run that judges makes the file usable again.
    assert judged.runpytest("--env", "local").ret == pytest.ExitCode.OK
    assert _verdict(judged).returncode == Exit.ALLOW


@pytest.mark.slow
def test_the_file_names_its_ci_run_and_another_run_is_refused(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(HEALTHY)
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("GITHUB_RUN_ID", "4242")
        assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    finally:
        mp.undo()
    data = json.loads((project.path / "reports" / "gate-local.json").read_text())
    assert data["ci_run_id"] == "4242"
    assert _verdict(project, env={"GITHUB_RUN_ID": "4242"}).returncode == Exit.ALLOW
    proc = _verdict(project, env={"GITHUB_RUN_ID": "4243"})
    assert proc.returncode == Exit.STALE
    assert "not by run 4243" in proc.stderr
    assert _verdict(project, "--run-id", data["run_id"]).returncode == Exit.ALLOW
    assert _verdict(project, "--run-id", "gr20260101t000000-000000").returncode == Exit.STALE


@pytest.mark.slow
def test_in_ci_without_max_age_only_this_workflow_runs_attempt_counts(
    project: pytest.Pytester,
) -> None:
    """In CI the default freshness is this workflow run: its id and its attempt (a re-run of
    the workflow is a new attempt and must judge again). --max-age, or no CI, keeps the age."""
    project.makepyfile(HEALTHY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GITHUB_RUN_ID", "4242")
        mp.setenv("GITHUB_RUN_ATTEMPT", "1")
        assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    data = json.loads((project.path / "reports" / "gate-local.json").read_text())
    assert (data["ci_run_id"], data["ci_run_attempt"]) == ("4242", "1")

    def ci(run: str, attempt: str, *args: str, actions: str = "true") -> Any:
        env = {"GITHUB_RUN_ID": run, "GITHUB_RUN_ATTEMPT": attempt, "GITHUB_ACTIONS": actions}
        return _verdict(project, *args, env=env)

    assert ci("4242", "1").returncode == Exit.ALLOW
    again = ci("4242", "2")
    assert again.returncode == Exit.STALE
    assert again.stderr.strip().endswith(
        "written by attempt 1 of run 4242, not by this attempt (2, $GITHUB_RUN_ATTEMPT):"
        " in CI without --max-age only this workflow run's own file counts"
    ), again.stderr
    assert ci("4243", "1").returncode == Exit.STALE
    assert ci("4242", "2", actions="false").returncode == Exit.ALLOW  # outside CI: the age
    assert ci("4242", "2", "--max-age", "1h").returncode == Exit.ALLOW  # asked for the age
    _edit(project, lambda d: d.pop("ci_run_attempt"))
    assert ci("4242", "1").returncode == Exit.STALE  # a file that names no attempt


def _signed_run(project: pytest.Pytester) -> None:
    project.makepyfile(HEALTHY)
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("GATE_SIGNING_KEY", KEY)
        assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    finally:
        mp.undo()


@pytest.mark.slow
def test_a_signed_file_is_accepted_only_with_its_key(project: pytest.Pytester) -> None:
    _signed_run(project)
    text = (project.path / "reports" / "gate-local.json").read_text()
    assert '"signature": "hmac-sha256:' in text
    assert KEY not in text
    assert _verdict(project, env={"GATE_SIGNING_KEY": KEY}).returncode == Exit.ALLOW
    proc = _verdict(project, env={"GATE_SIGNING_KEY": "another-runs-key"})
    assert proc.returncode == Exit.MALFORMED
    assert "signature does not match" in proc.stderr


def _hand_edit_to_allow(data: dict[str, Any]) -> None:
    for checklist in data["checklists"]:
        for item in checklist["items"]:
            item.update(status="passed", reason=None)
    data["verdict"] = "allow"


def test_a_hand_edited_file_is_refused_when_a_key_is_set(project: pytest.Pytester) -> None:
    project.makepyfile(HEALTHY.replace("pass", "assert False"))
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("GATE_SIGNING_KEY", KEY)
        assert project.runpytest("--env", "local").ret == pytest.ExitCode.TESTS_FAILED
    finally:
        mp.undo()
    _edit(project, _hand_edit_to_allow)
    proc = _verdict(project, env={"GATE_SIGNING_KEY": KEY})
    assert proc.returncode == Exit.MALFORMED
    assert "signature does not match" in proc.stderr


def test_an_unsigned_file_is_refused_when_a_key_is_set(judged: pytest.Pytester) -> None:
    proc = _verdict(judged, env={"GATE_SIGNING_KEY": KEY})
    assert proc.returncode == Exit.MALFORMED
    assert "not signed, but GATE_SIGNING_KEY is set" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 200_000 + "]" * 200_000, "nested deeper than"),
        ('{"format": 2, "x": ' + "[" * 200_000, "nested deeper than"),
        ('{"format": 2, "pad": "' + "x" * (17 * 1024 * 1024) + '"}', "larger than"),
        ("\xff\xfe not text", "not readable JSON"),
        ('{"format": 2, "checklists": [{"items": [' + "[" * 50 + "]" * 50 + "]}]}", "malformed"),
    ],
    ids=["deep", "deep-unclosed", "huge", "binary", "odd-item"],
)
def test_a_malformed_file_of_any_depth_or_size_is_one_line_exit_4(
    judged: pytest.Pytester, text: str, fragment: str
) -> None:
    path = judged.path / "reports" / "gate-local.json"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    proc = _verdict(judged)
    assert proc.returncode == Exit.MALFORMED, proc.stderr
    assert fragment in proc.stderr


def test_a_run_with_the_gate_disabled_voids_the_previous_file(
    judged: pytest.Pytester, repo_root: Path
) -> None:
    """The plugin cannot hook a run it is not loaded in: the project's root conftest.py does."""
    judged.makeconftest((repo_root / "conftest.py").read_text(encoding="utf-8"))
    judged.runpytest("-p", "no:promorang_gate")
    proc = _verdict(judged)
    assert proc.returncode == Exit.STALE, proc.stderr
    assert "the gate plugin was disabled" in proc.stderr
