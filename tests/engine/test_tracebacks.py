"""A failed check's traceback shows the suites' and the engine's frames and the one that raised,
not every library frame between them (reporting/tracebacks.py); --full-trace shows them all."""

from __future__ import annotations

from typing import Any

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


MANY_FAILURES_IN_ONE_FILE = """
import pytest


def check(value):
    assert (
        value
        == 0
    ), f"value {value}"


@pytest.mark.parametrize("value", [1, 2, 3, 4])
def test_value(gate_target, value):
    check(
        value,
    )
"""


def test_each_file_is_parsed_once_for_all_failures(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest parsed a frame's file anew for every failure; a run parses it once, and prints
    each failure's whole statements as pytest does."""
    import ast

    from _pytest._code import code, source

    # pytest's own function, as a run of its own starts with (this session shares it too).
    pytests = getattr(source.getstatementrange_ast, "original", source.getstatementrange_ast)
    for module in (code, source):
        monkeypatch.setattr(module, "getstatementrange_ast", pytests)
    parsed: list[int] = []
    real_parse = ast.parse

    def counting_parse(text: Any, *args: Any, **kwargs: Any) -> Any:
        if "import pytest" in str(text):  # the whole file, not one statement of it
            parsed.append(1)
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    project.makepyfile(MANY_FAILURES_IN_ONE_FILE)
    result = project.runpytest_inprocess("--env", "local", "--tb=long")
    result.assert_outcomes(failed=4)
    # Once by pytest's assertion rewriting when it imports the file, once for the tracebacks.
    assert len(parsed) == 2, f"the suite's file was parsed {len(parsed)} times for 4 failures"
    output = result.stdout.str()
    assert output.count("    check(\n            value,\n        )") == 4, output
    assert output.count("E       AssertionError: value 3") == 1, output
    assert vars(code)["getstatementrange_ast"] is source.getstatementrange_ast is pytests


def test_a_pytest_without_that_function_keeps_its_own_tracebacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The statement ranges are pytest's private function: where it moved, nothing is shared
    and the run goes on as pytest's own."""
    from types import SimpleNamespace

    from _pytest._code import source

    from promorang_gate.reporting import tracebacks

    monkeypatch.delattr(source, "getstatementrange_ast")
    config: Any = SimpleNamespace(stash=pytest.Stash())
    tracebacks.share_statement_ranges(config)
    tracebacks.unshare_statement_ranges(config)
    assert not hasattr(source, "getstatementrange_ast")
    assert len(config.stash) == 0
