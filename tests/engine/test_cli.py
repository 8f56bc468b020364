"""``promorang-gate verdict`` and ``janitor``: exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promorang_gate.cli import main, parse_duration

_STATUS = {"allow": "passed", "block": "failed"}


def _gate(directory: Path, env: str, verdict: str) -> None:
    directory.mkdir(exist_ok=True)
    data = {
        "environment": env,
        "verdict": verdict,
        "run_id": "gr20261125t164700-3fa2c1",
        "checklists": [
            {
                "id": "health",
                "title": "Health",
                "items": [
                    {"id": "health.api", "status": "passed" if verdict == "allow" else "failed"}
                ],
            }
        ],
    }
    (directory / f"gate-{env}.json").write_text(json.dumps(data), encoding="utf-8")


def test_verdict_all_allow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _gate(tmp_path, "staging", "allow")
    _gate(tmp_path, "prod", "allow")
    assert main(["verdict", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "GATE prod: ALLOW (1 passed, 0 failed" in out
    assert "staging  health     health.api  passed" in out


def test_verdict_any_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _gate(tmp_path, "staging", "allow")
    _gate(tmp_path, "prod", "block")
    assert main(["verdict", str(tmp_path)]) == 1
    assert "GATE prod: BLOCK (0 passed, 1 failed" in capsys.readouterr().out


def test_verdict_no_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verdict", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"promorang-gate: error: {tmp_path}: no gate-*.json files"


def test_verdict_malformed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _gate(tmp_path, "staging", "allow")
    (tmp_path / "gate-prod.json").write_text("{not json", encoding="utf-8")
    assert main(["verdict", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "gate-prod.json: not a readable gate file" in err


def test_verdict_reads_a_real_run(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            pass
        """
    )
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    proc = subprocess.run(
        [sys.executable, "-m", "promorang_gate.cli", "verdict", str(project.path / "reports")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "GATE local: ALLOW (2 passed" in proc.stdout


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800.0), ("2h", 7200.0), ("3600", 3600.0)])
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
