"""A sign-off given on the command line leaves evidence: it needs a note, it is listed among the
flags of the gate file, the checklist page, the step summary and `verdict`'s output, and
`verdict --no-cli-signoffs` (what the workflow uses) refuses a verdict that counted one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_helpers import assert_usage_error

from promorang_gate.decision.verdict_file import Exit

THRESHOLDS = """
import pytest

@pytest.mark.checklist("slo.upload_latency_p95", "slo.upload_failure_rate")
def test_thresholds(gate_target):
    pass
"""
CLI = (sys.executable, "-m", "promorang_gate.cli")
ARGS = ("--env", "local", "--gate", "monitoring")
FLAG = (
    "slo.storage_quota signed on the command line by carol: quota alert set"
    " (not in checklists/signoffs/local.yaml)"
)


def _verdict(project: pytest.Pytester, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "promorang_gate.cli",
            "verdict",
            "reports",
            "--env",
            "local",
            "--gate",
            "monitoring",
            "--accept-flags",
            *args,
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_command_line_sign_off_needs_a_note(project: pytest.Pytester) -> None:
    project.makepyfile(THRESHOLDS)
    result = project.runpytest(*ARGS, "--signoff", "slo.storage_quota=carol")
    assert_usage_error(result, project, "add --signoff-note TEXT")


def test_it_is_listed_everywhere_and_refused_by_no_cli_signoffs(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(THRESHOLDS)
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.runpytest(
        *ARGS, "--signoff", "slo.storage_quota=carol", "--signoff-note", "quota alert set"
    )
    assert result.ret == pytest.ExitCode.OK
    data = json.loads((project.path / "reports" / "gate-local.json").read_text())
    assert FLAG in data["flags"]
    (signed,) = data["criteria"]["cli_signoffs"]
    assert (signed["item"], signed["by"], signed["note"]) == (
        "slo.storage_quota",
        "carol",
        "quota alert set",
    )
    assert FLAG in (project.path / "reports" / "checklist-local.md").read_text()
    assert FLAG in summary.read_text()
    item = next(i for c in data["checklists"] for i in c["items"] if i["id"] == "slo.storage_quota")
    assert item["reason"].endswith("(on the command line): quota alert set")

    accepted = _verdict(project)
    assert accepted.returncode == 0, accepted.stderr
    assert f"CRITERIA local: {FLAG}" in accepted.stdout
    refused = _verdict(project, "--no-cli-signoffs")
    assert refused.returncode == Exit.OTHER_GATE_OR_CRITERIA
    assert refused.stderr.startswith(
        "promorang-gate: refused: slo.storage_quota signed on the command line (--signoff)"
    )
    assert len(refused.stderr.strip().splitlines()) == 1


def test_no_cli_signoffs_accepts_sign_offs_from_the_file(project: pytest.Pytester) -> None:
    project.makepyfile(THRESHOLDS)
    assert (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "promorang_gate.cli",
                "signoff",
                "slo.storage_quota",
                "--env",
                "local",
                "--by",
                "carol",
                "--note",
                "quota alert set",
            ],
            cwd=project.path,
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    assert project.runpytest(*ARGS).ret == pytest.ExitCode.OK
    assert _verdict(project, "--no-cli-signoffs").returncode == 0
