"""`promorang-gate --help` and each subcommand's help: plain words, exit codes, an example."""

from __future__ import annotations

import pytest

from promorang_gate.cli import main

COMMANDS = ["verdict", "signoff", "janitor", "report", "check-config"]


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _plain(text: str) -> None:
    assert "``" not in text  # no reStructuredText
    for internal in ("verdict_file", "report_render", "EXIT_CODES", "Exit"):
        assert internal not in text


def test_the_main_help_names_every_command_with_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(capsys)
    _plain(text)
    assert all(command in text for command in COMMANDS)
    assert "examples:\n  promorang-gate check-config --env staging\n" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_says_its_exit_codes_and_gives_an_example(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = _help(capsys, command)
    _plain(text)
    assert "exit codes:" in text
    assert f"example:\n  promorang-gate {command} " in text
