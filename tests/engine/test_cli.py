"""``promorang-gate verdict``, ``signoff`` and ``janitor``: exit codes and one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_helpers import LOCAL_SECRET, assert_usage_error

from promorang_gate.cli import main
from promorang_gate.decision.verdict_file import Exit
from promorang_gate.durations import parse_duration

HEALTHY = """
import pytest

@pytest.mark.checklist("health.api", "health.frontend")
def test_health(gate_target):
    pass
"""


@pytest.fixture
def judged(project: pytest.Pytester) -> pytest.Pytester:
    """A project whose `local` env was just judged ALLOW by the gate `health`."""
    project.makepyfile(HEALTHY)
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    return project


def _verdict(
    project: pytest.Pytester, *args: str, accept_flags: bool = True
) -> tuple[int, str, str]:
    # The test projects carry their own checklists and gate, which every gate file flags.
    accept = ["--accept-flags"] if accept_flags else []
    proc = subprocess.run(
        [sys.executable, "-m", "promorang_gate.cli", "verdict", "reports", *args, *accept],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _edit_gate_file(project: pytest.Pytester, change: Callable[[dict[str, Any]], None]) -> None:
    path = project.path / "reports" / "gate-local.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_fresh_allow_of_the_right_gate_exits_zero(judged: pytest.Pytester) -> None:
    code, out, err = _verdict(judged, "--env", "local")
    assert (code, err) == (0, "")
    assert "GATE local: ALLOW (gate health: 2 passed" in out


# The verdict is a CI step of its own, run after every gate: it reads files and needs none of
# the clients a gate run sends requests with (their imports were most of its 0.6 s).
VERDICT_PROBE = (
    "import sys\n"
    "from promorang_gate.cli import main\n"
    "print('EXIT', main(sys.argv[1:]))\n"
    "heavy = ('httpx', 'psycopg', 'supabase', 'schemathesis', 'playwright')\n"
    "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
)


def test_the_verdict_loads_no_client(judged: pytest.Pytester) -> None:
    command = ["verdict", "reports", "--env", "local", "--accept-flags"]
    proc = subprocess.run(
        [sys.executable, "-c", VERDICT_PROBE, *command],
        cwd=judged.path, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert "EXIT 0" in proc.stdout, proc.stdout + proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout


def test_each_refusal_has_its_own_code_and_one_line(judged: pytest.Pytester) -> None:
    cases = {
        Exit.MISSING: (["--env", "prod"], "no gate file for env 'prod'"),
        Exit.OTHER_GATE_OR_CRITERIA: (
            ["--env", "local", "--gate", "full"],
            "judged by gate 'health', not 'full'",
        ),
        Exit.USAGE: (["--env", "local", "--max-age", "soon"], "--max-age 'soon'"),
    }
    for expected, (args, fragment) in cases.items():
        code, out, err = _verdict(judged, *args)
        assert code == expected, (args, out, err)
        assert len(err.strip().splitlines()) == 1, err
        assert fragment in err, err
        assert "Traceback" not in err


def test_a_verdict_judged_with_flagged_criteria_is_refused_unless_accepted(
    judged: pytest.Pytester,
) -> None:
    code, out, err = _verdict(judged, "--env", "local", accept_flags=False)
    assert code == Exit.OTHER_GATE_OR_CRITERIA, (out, err)
    assert "judged with criteria not as shipped" in err
    assert "--accept-flags uses it anyway" in err
    assert len(err.strip().splitlines()) == 1


def test_a_stale_file_is_refused(judged: pytest.Pytester) -> None:
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    _edit_gate_file(judged, lambda d: d.update(finished_at=earlier.isoformat()))
    code, _, err = _verdict(judged, "--env", "local", "--max-age", "1s")
    assert code == Exit.STALE
    assert "stale: finished" in err
    assert "older than --max-age 1s" in err


def test_a_newer_run_that_never_finished_makes_the_file_stale(judged: pytest.Pytester) -> None:
    marker = judged.path / "reports" / ".gate-local.running"
    marker.write_text('{"run_id": "gr20991231t000000-abcdef", "started_at": "x"}\n')
    code, _, err = _verdict(judged, "--env", "local")
    assert code == Exit.STALE
    assert "a newer run (gr20991231t000000-abcdef" in err


def _drop_a_required_item(data: dict[str, Any]) -> None:
    item = data["checklists"][0]["items"].pop()
    data["gate"]["required"].remove(item["id"])


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda d: (
                d.update(verdict="allow") or d["checklists"][0]["items"][0].update(status="failed")
            ),
            "contradicts its items",
        ),
        (lambda d: d["gate"]["required"].append("health.extra"), "not the items its gate requires"),
        (lambda d: d.update(environment="prod"), "verdict of env 'prod', not 'local'"),
        (lambda d: d.update(format=1), "not a gate file of format 2"),
        (lambda d: d.update(finished_at="yesterday"), "'finished_at' must be an ISO date-time"),
        (lambda d: d.update(flags="none"), "'flags' must be a list"),
        (lambda d: d["checklists"][0]["items"].append(7), "item 7 has no valid status"),
        # Consistent in itself, but not what the repository's gate and checklists say.
        (_drop_a_required_item, "not the items gate 'health' requires"),
        (lambda d: d.update(criteria={"checklists": 1}), "'criteria.checklists' must be a"),
        (
            lambda d: d["checklists"][0]["items"][0].update(status="failed", gating=False),
            "is not gating as its checklist says",
        ),
    ],
    ids=[
        *("contradiction", "required", "other-env", "format", "time", "flags", "item"),
        *("partial", "criteria", "excused"),
    ],
)
def test_a_tampered_file_is_malformed(
    judged: pytest.Pytester, change: Callable[[dict[str, Any]], None], fragment: str
) -> None:
    _edit_gate_file(judged, change)
    code, _, err = _verdict(judged, "--env", "local")
    assert code == Exit.MALFORMED, err
    assert fragment in err


def test_a_file_judged_with_other_checklists_is_refused(judged: pytest.Pytester) -> None:
    health = judged.path / "checklists" / "health.yaml"
    health.write_text(health.read_text(encoding="utf-8") + "\n# loosened\n", encoding="utf-8")
    code, _, err = _verdict(judged, "--env", "local")
    assert code == Exit.OTHER_GATE_OR_CRITERIA
    assert "judged with other checklists" in err


@pytest.mark.slow
def test_a_block_exits_one_and_lists_its_blockers(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        def test_api(gate_target):
            assert False, "health answered 503"
        """
    )
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.TESTS_FAILED
    code, out, _ = _verdict(project, "--env", "local")
    assert code == Exit.BLOCK
    assert "BLOCKER health.api: failed: health answered 503" in out
    assert "BLOCKER health.frontend: not verified: " in out
    assert "GATE local: BLOCK" in out


def test_collect_only_and_usage_errors_leave_the_gate_file_as_it_was(
    judged: pytest.Pytester,
) -> None:
    """The files stay byte for byte; only a marker says a newer run reached no verdict
    (test_adversarial_gate_file.py: the verdict refuses them then)."""
    reports = judged.path / "reports"
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    assert judged.runpytest("--env", "local", "--co", "-q").ret == pytest.ExitCode.OK
    assert judged.runpytest("--env", "local", "--gate", "nope").ret == pytest.ExitCode.USAGE_ERROR
    after = {p.name: p.read_bytes() for p in reports.iterdir()}
    assert after.pop(".gate-local.running")
    assert after == before


def test_signoff_records_a_dated_entry_and_the_gate_counts_it(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    rootdir = str(project.path)
    args = ["--env", "local", "--by", "erin", "--rootdir", rootdir]
    assert main(["signoff", "growth_hub.frontend_copy", *args, "--note", "copy deck v3"]) == 0
    assert main(["signoff", "growth_hub.frontend_copy", *args, "--deployment", "abc123"]) == 0
    out = capsys.readouterr().out
    assert "signed off growth_hub.frontend_copy for local: signed by erin at " in out
    path = project.path / "checklists" / "signoffs" / "local.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert len(entries) == 1  # the newer sign-off replaced the older one
    assert entries[0]["by"] == "erin"
    assert entries[0]["deployment"] == "abc123"
    assert main(["signoff", "health.api", *args]) == Exit.USAGE
    assert "'health.api' is verified by its checks" in capsys.readouterr().err
    assert main(["signoff", "growth_hub.frontend_copy", "--env", "moon", "--by", "x"]) == 2
    assert "unknown environment" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800.0), ("2h", 7200.0), ("7d", 604800.0), ("3600", 3600.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_janitor_sandbox_needs_state_file(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["janitor", "--env", "sandbox"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "promorang-gate: error: janitor --env sandbox needs a running sandbox:"
        " give --sandbox-state PATH or set PROMORANG_SANDBOX_STATE"
    )


def test_janitor_config_errors_are_one_line(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["janitor", "--env", "staging", "--rootdir", str(tmp_path)]) == 2
    assert "set GATE_STAGING_SERVICE_ROLE_KEY" in capsys.readouterr().err
    assert main(["janitor", "--env", "local", "--older-than", "soon"]) == 2
    assert "--older-than 'soon'" in capsys.readouterr().err
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", "abcdefgh")
    clean_env.setenv("GATE_LOCAL_WRITES_ALLOWED", "false")
    code = main(["janitor", "--env", "local", "--rootdir", str(tmp_path)])
    assert code == 2
    assert "writes are not allowed on local" in capsys.readouterr().out


def test_a_sign_off_never_carries_a_secret(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sign-off file is committed with the release."""
    args = ["signoff", "growth_hub.frontend_copy", "--env", "local", "--rootdir", str(project.path)]
    assert main([*args, "--by", "erin", "--note", f"checked with key {LOCAL_SECRET}"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "promorang-gate: error: --note: the text holds a secret; leave it out of the sign-off"
    )
    assert LOCAL_SECRET not in err
    assert not (project.path / "checklists" / "signoffs" / "local.yaml").exists()


def test_a_standing_sign_off_holds_only_for_the_embedded_sandbox(project: pytest.Pytester) -> None:
    """A sign-off that never expires would vouch for every later release of a real env."""
    signoffs = project.path / "checklists" / "signoffs"
    signoffs.mkdir(exist_ok=True)
    (signoffs / "local.yaml").write_text(
        "- item: growth_hub.frontend_copy\n  by: erin\n  at: '2026-11-25T00:00:00Z'\n"
        "  env: local\n  standing: true\n",
        encoding="utf-8",
    )
    project.makepyfile(HEALTHY)
    result = project.runpytest("--env", "local")
    assert_usage_error(
        result, project, "'standing' is for the embedded sandbox only; env 'local' signs"
    )
