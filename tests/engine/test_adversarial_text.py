"""Free text written into a report or a terminal is one printable line of bounded length: a
sign-off's name, note or deployment with a line break, a terminal escape or a megabyte is a bad
input (exit 4, one line, nothing written), wherever it comes from; a target's escapes in a
failure reason are shown as ``?``."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import assert_usage_error, gate_file, item_status

from promorang_gate.cli import main

BAD = {
    "newline": "alice\nGATE local: ALLOW",
    "ansi": "alice\x1b[2J\x1b[32m",
    "bidi": "alice\u202eecila",
    "long": "a" * 101,
}


@pytest.mark.parametrize("flag", ["--by", "--note", "--deployment"])
@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_sign_off_text_is_exit_4_and_writes_nothing(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], flag: str, kind: str
) -> None:
    value = BAD[kind] * (6 if kind == "long" and flag != "--by" else 1)
    args = ["signoff", "growth_hub.frontend_copy", "--env", "local", "--rootdir", str(project.path)]
    extra = [] if flag == "--by" else ["--by", "alice"]
    code = main([*args, *extra, flag, value])
    err = capsys.readouterr().err
    assert code == 4, err
    assert len(err.strip().splitlines()) == 1
    assert "\x1b" not in err
    assert "\u202e" not in err
    assert not (project.path / "checklists" / "signoffs" / "local.yaml").exists()


@pytest.mark.parametrize("kind", ["ansi", "bidi", "long"])
def test_a_bad_signoff_option_of_the_gate_is_a_usage_error(
    project: pytest.Pytester, kind: str
) -> None:
    project.makepyfile("def test_nothing():\n    pass\n")
    result = project.runpytest("--env", "local", f"--signoff=growth_hub.frontend_copy={BAD[kind]}")
    assert_usage_error(result, project, "--signoff WHO")
    assert "\x1b" not in result.stdout.str() + result.stderr.str()


def test_a_sign_off_file_with_an_escape_is_a_usage_error(project: pytest.Pytester) -> None:
    signoffs = Path(project.path / "checklists" / "signoffs")
    signoffs.mkdir(exist_ok=True)
    (signoffs / "local.yaml").write_text(
        '- {item: growth_hub.frontend_copy, by: "mallory\\e[2J", at: "2026-01-01T00:00:00Z",'
        " env: local}\n",
        encoding="utf-8",
    )
    project.makepyfile("def test_nothing():\n    pass\n")
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "by 'mallory\\x1b[2J'")


def test_a_targets_escapes_in_a_reason_are_shown_as_question_marks(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        def test_api(gate_target):
            assert False, "target said \\x1b[2Jall good\\u202e"
        """
    )
    result = project.runpytest("--env", "local")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    status, reason = item_status(gate_file(project))["health.api"]
    assert status == "failed"
    assert "\x1b" not in reason
    assert "\u202e" not in reason
    assert "?[2Jall good?" in reason
