"""A gate run writing its reports to the repository's reports directory appends its point to
the Allure history; without the Node tooling it says so in one line and keeps its verdict."""

from __future__ import annotations

import pytest

HEALTHY = """
import pytest

@pytest.mark.checklist("health.api", "health.frontend")
def test_health(gate_target):
    pass
"""


def test_without_the_tooling_the_run_says_the_history_was_not_appended(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(HEALTHY)
    result = project.runpytest("--env", "local", "--alluredir", "reports/allure-results")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["Allure history: not appended to */reports/history.jsonl (Node.js and the pinned*"]
    )


def test_a_run_with_reports_elsewhere_keeps_no_history(project: pytest.Pytester) -> None:
    project.makepyfile(HEALTHY)
    result = project.runpytest(
        "--env", "local", "--alluredir", "elsewhere/allure", "--gate-reports=elsewhere"
    )
    assert result.ret == pytest.ExitCode.OK
    assert "Allure history" not in result.stdout.str()
