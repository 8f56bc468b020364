"""Outcomes read at the source: a plugin or conftest that rewrites a failed report as passed
("flaky quarantine") cannot turn a failing check into ``allow``; the run blocks, the items fail
with the flag ``outcome_rewritten`` naming who could have done it."""

from __future__ import annotations

import pytest
from engine_helpers import gate_file, item_status

SUITE = """
import pytest

@pytest.mark.checklist("health.api")
def test_api(gate_target):
    assert False, "api down"

@pytest.mark.checklist("health.frontend")
def test_frontend(gate_target):
    pass
"""

QUARANTINE_NEW = """
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        report.outcome = "passed"
        report.longrepr = None
    return report
"""

QUARANTINE_OLD = """
import pytest

@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"
"""

QUARANTINE_TRYLAST = """
import pytest

@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        report.outcome = "passed"
    return report
"""

QUARANTINE_LOGREPORT = """
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    if report.failed:
        report.outcome = "passed"
"""

QUARANTINE_SKIP = """
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        report.outcome = "skipped"
        report.wasxfail = "quarantined"
    return report
"""

SWALLOW_CALL = """
import pytest

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    except AssertionError:
        return None
"""


def _assert_rewritten_blocks(result: pytest.RunResult, project: pytest.Pytester, who: str) -> None:
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*outcome_rewritten: the gate saw call failed*", "GATE local: BLOCK*"]
    )
    data = gate_file(project)
    assert data["verdict"] == "block"
    status, reason = item_status(data)["health.api"]
    assert status == "failed"
    assert reason.startswith("outcome_rewritten: the gate saw call failed"), reason
    assert who in reason, reason
    assert [r["test"].split("::")[-1] for r in data["outcome_rewritten"]] == ["test_api[local]"]
    assert item_status(data)["health.frontend"] == ("passed", None)


@pytest.mark.parametrize(
    "hooks", [QUARANTINE_NEW, QUARANTINE_OLD, QUARANTINE_TRYLAST, QUARANTINE_LOGREPORT]
)
def test_a_conftest_quarantine_cannot_turn_failed_into_allow(
    project: pytest.Pytester, hooks: str
) -> None:
    project.makeconftest(hooks)
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local")
    _assert_rewritten_blocks(result, project, "conftest.py")


def test_a_quarantine_plugin_loaded_with_p_is_named(project: pytest.Pytester) -> None:
    project.makepyfile(quarantine=QUARANTINE_NEW)
    project.makepyfile(test_suite=SUITE)
    project.syspathinsert()
    result = project.runpytest("--env", "local", "-p", "quarantine", "test_suite.py")
    _assert_rewritten_blocks(result, project, "quarantine (")


@pytest.mark.slow
def test_a_quarantine_under_xdist_is_caught_on_the_controller(project: pytest.Pytester) -> None:
    project.makeconftest(QUARANTINE_NEW)
    project.makepyfile(SUITE)
    result = project.runpytest_subprocess("--env", "local", "-n", "1", "-p", "xdist")
    _assert_rewritten_blocks(result, project, "conftest.py")


def test_a_failure_made_an_xfail_by_a_plugin_still_blocks(project: pytest.Pytester) -> None:
    project.makeconftest(QUARANTINE_SKIP)
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local")
    _assert_rewritten_blocks(result, project, "conftest.py")


def test_a_swallowed_exception_outside_the_gate_is_seen(project: pytest.Pytester) -> None:
    project.makeconftest(SWALLOW_CALL)
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local")
    _assert_rewritten_blocks(result, project, "conftest.py")


def test_pytests_own_xfail_and_skips_are_not_rewrites(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        @pytest.mark.xfail(reason="known", strict=True)
        def test_api(gate_target):
            assert False

        @pytest.mark.checklist("health.frontend")
        def test_frontend(gate_target):
            pytest.xfail("imperative")
        """
    )
    result = project.runpytest("--env", "local")
    result.assert_outcomes(xfailed=2)
    assert "outcome_rewritten" not in result.stdout.str()
    data = gate_file(project)
    assert "outcome_rewritten" not in data
    assert item_status(data)["health.api"] == ("not_verified", "xfail: known")
