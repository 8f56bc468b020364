"""Outcomes read at the source: what each phase of a test did, seen by the gate itself.

A report object passes through every plugin's ``pytest_runtest_makereport`` and
``pytest_runtest_logreport``; any of them can set ``report.outcome``. The gate therefore records
each phase's result where it happens (its own innermost wrapper of ``pytest_runtest_setup``,
``_call`` and ``_teardown``: the exception, or none) and compares the final report with it. The
only changes accepted are pytest's own: an xfail (a failure reported as skipped, a pass as xpass)
and a stricter outcome (anything turned into a failure).
"""

from __future__ import annotations

import unittest
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "OBSERVED",
    "OutcomeObserver",
    "describe",
    "observed_of",
    "rewritten",
    "suspects",
]

#: (nodeid, when) -> the outcome the gate saw; shared with the reporter in one process.
OBSERVED = pytest.StashKey[dict[tuple[str, str], str]]()
#: The report attribute carrying the observation to the xdist controller.
ATTRIBUTE = "gate_observed"
# Plugins whose hooks are known not to change outcomes other than as accepted above.
_TRUSTED = ("_pytest.", "pluggy.", "promorang_gate.", "xdist.", "allure_pytest.", "pytest_html.")


def _outcome_of(item: pytest.Item, exc: BaseException | None) -> str:
    """passed, skipped, failed, or xfail: a failure pytest may report as an expected one."""
    if exc is None:
        return "passed"
    if isinstance(exc, pytest.skip.Exception | unittest.SkipTest):
        return "skipped"
    if isinstance(exc, pytest.xfail.Exception) or item.get_closest_marker("xfail"):
        return "xfail"
    return "failed"


class OutcomeObserver:
    """The innermost wrappers of the three phases; they only look."""

    def __init__(self, config: pytest.Config) -> None:
        self.seen: dict[tuple[str, str], str] = {}
        config.stash[OBSERVED] = self.seen

    def _observe(self, item: pytest.Item, when: str) -> Generator[None, None, None]:
        try:
            yield
        except BaseException as exc:
            self.seen[(item.nodeid, when)] = _outcome_of(item, exc)
            raise
        self.seen[(item.nodeid, when)] = "passed"

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        return (yield from self._observe(item, "setup"))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        return (yield from self._observe(item, "call"))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, None, None]:
        return (yield from self._observe(item, "teardown"))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        # For the xdist controller, which only sees the report (in one process the dict is read).
        setattr(report, ATTRIBUTE, self.seen.get((item.nodeid, call.when)))
        return report


def observed_of(report: pytest.TestReport, seen: dict[tuple[str, str], str]) -> str | None:
    """What the gate saw of this report's phase (None: it never saw the phase run)."""
    key = (report.nodeid, str(report.when))
    if key in seen:
        return seen[key]
    value = getattr(report, ATTRIBUTE, None)
    return value if value in ("passed", "failed", "skipped", "xfail") else None


def rewritten(observed: str | None, report: pytest.TestReport) -> bool:
    """Whether the report says something the phase did not do (and pytest would not say)."""
    final = report.outcome
    if observed is None:
        # Only a phase that ran produces a report; a report without one was made up.
        return final != "failed"
    if final == observed or final == "failed":
        return False
    if getattr(report, "wasxfail", None) is not None:
        return (observed, final) not in (("passed", "passed"), ("xfail", "skipped"))
    return True


def suspects(pluginmanager: pytest.PytestPluginManager, rootdir: Path) -> list[str]:
    """The plugins and conftests that could have rewritten a report: those implementing the
    phase and report hooks, other than pytest's own and the gate's."""
    names: list[str] = []
    hook = pluginmanager.hook
    hooks = (
        hook.pytest_runtest_setup,
        hook.pytest_runtest_call,
        hook.pytest_runtest_teardown,
        hook.pytest_runtest_makereport,
        hook.pytest_runtest_logreport,
    )
    for caller in hooks:
        for impl in caller.get_hookimpls():
            name = _describe(impl.plugin, impl.plugin_name, rootdir)
            if name and name not in names:
                names.append(name)
    return names


def _describe(plugin: object, plugin_name: str, rootdir: Path) -> str | None:
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    if str(module).startswith(_TRUSTED) or str(module) in ("builtins",):
        return None
    path = getattr(plugin, "__file__", None)
    if path:
        p = Path(path)
        shown = p.relative_to(rootdir) if p.is_relative_to(rootdir) else p
        return str(shown) if p.name == "conftest.py" else f"{module} ({shown})"
    return str(plugin_name)


def describe(names: Iterable[str]) -> str:
    listed = list(names)
    return f"by {', '.join(listed)}" if listed else "by a plugin"
