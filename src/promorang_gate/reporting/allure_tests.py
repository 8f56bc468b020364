"""What allure-pytest cannot know about a checklist test: a title in the runbook's words and a
duration that counts the requests made in its fixtures. Registered on every process that runs
tests (xdist workers too) when Allure results are on (``--alluredir``).

- Title: ``<item text> — <the check's short description>[ <parameters>]``; the description is
  the first line of the test's docstring, else its function name in words
  (``test_bucket_exists_and_is_public`` → "Bucket exists and is public"), so a suite file keeps
  reading like its checklist line without a decorator.
- Duration: allure-pytest times only the test function, while the gate's requests happen in
  fixtures (``upload_sample``, ``contract_runner``): the result's start is moved back to the
  start of the setup.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import pytest

from promorang_gate import state
from promorang_gate.decision.checklists import Catalog
from promorang_gate.decision.verdict import CHECK_PROPERTY, CHECKLIST_PROPERTY

__all__ = ["AllureTestDetails", "describe_check", "title_of"]

_SETUP_STARTED = pytest.StashKey[int]()
#: The name under which allure-pytest registers its listener (its own ``pytest_configure``).
ALLURE_LISTENER = "allure_listener"


def describe_check(function_name: str, docstring: str | None) -> str:
    """The check's short description: its docstring's first line, else its name in words."""
    first = next((ln.strip() for ln in (docstring or "").splitlines() if ln.strip()), "")
    if first:
        return first.rstrip(".")
    words = function_name.removeprefix("test_").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _params(check: str) -> str:
    """The non-env parameters of a check id (``path::test[GET /x]`` → ``[GET /x]``)."""
    _, bracket, rest = check.partition("[")
    return f" [{rest}" if bracket else ""


def title_of(item: pytest.Item, catalog: Catalog) -> str | None:
    """The Allure title of a checklist test, or None for any other test."""
    props = dict(item.user_properties)
    ids = [i for i in str(props.get(CHECKLIST_PROPERTY, "")).split() if i in catalog.items]
    if not ids:
        return None
    function = getattr(item, "function", None)
    name = getattr(item, "originalname", item.name)
    description = describe_check(name, getattr(function, "__doc__", None))
    wording = "; ".join(catalog.items[i].text for i in ids)
    return f"{wording} — {description}{_params(str(props.get(CHECK_PROPERTY, '')))}"


def _now_ms() -> int:
    return round(time.time() * 1000)  # Allure's clock: epoch milliseconds


class AllureTestDetails:
    """Hook wrappers around allure-pytest's own (tryfirst: they run outside them)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _current_result(self) -> Any:
        """The Allure result being written for the running test, or None.

        allure-pytest exposes its reporter as the listener's ``allure_logger`` attribute;
        ``get_test(None)`` is allure-commons' public call for the running test's result."""
        listener = self.config.pluginmanager.get_plugin(ALLURE_LISTENER)
        logger = getattr(listener, "allure_logger", None)
        return logger.get_test(None) if logger is not None else None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        item.stash[_SETUP_STARTED] = _now_ms()
        try:
            return (yield)
        finally:
            # After allure-pytest named the result from the function name: rename it.
            catalog = self.config.stash.get(state.CHECKLISTS, None)
            title = title_of(item, catalog) if catalog is not None else None
            result = self._current_result()
            if title and result is not None:
                result.name = title

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            # allure-pytest restarted the clock at the call; the requests ran in the setup.
            result = self._current_result()
            started = item.stash.get(_SETUP_STARTED, None)
            if result is not None and started is not None:
                result.start = min(result.start or started, started)
