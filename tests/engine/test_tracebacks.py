"""A failed check's traceback shows the suites' and the engine's frames and the one that raised,
not every library frame between them (reporting/tracebacks.py); --full-trace shows them all."""

from __future__ import annotations

import pytest

FAILING_INSIDE_A_LIBRARY = """
import json

from promorang_gate.secrets.redaction import Redactor


def parse(text):
    return json.loads(text)


def test_parses(gate_target):
    Redactor(["unused"]).redact(parse("{broken"))
"""


def test_library_frames_between_the_check_and_the_raise_are_left_out(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(FAILING_INSIDE_A_LIBRARY)
    result = project.runpytest("--env", "local")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "return json.loads(text)" in output  # the suite's own frame, between
    assert "json/decoder.py" in output  # where it was raised
    assert "json/__init__.py" not in output  # the library frame between
    assert "JSONDecodeError: Expecting property name" in output


def test_full_trace_keeps_every_frame(project: pytest.Pytester) -> None:
    project.makepyfile(FAILING_INSIDE_A_LIBRARY)
    result = project.runpytest("--env", "local", "--full-trace")
    result.assert_outcomes(failed=1)
    assert "json/__init__.py" in result.stdout.str()
