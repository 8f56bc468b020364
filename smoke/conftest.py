"""What the smoke suite's browser checks need from pytest-playwright: the system's Chromium,
kept off the network, and the failure screenshot and trace in the Allure result
(``promorang_gate.browser``). pytest-playwright's own options work unchanged."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from promorang_gate import browser
from promorang_gate.errors import ConfigError


def pytest_configure(config: pytest.Config) -> None:
    try:
        browser.check_chromium_setting(os.environ)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], browser_type: Any
) -> dict[str, Any]:
    """pytest-playwright's launch options on the system Chromium (skips when there is none)."""
    bundled = browser_type.executable_path  # where `playwright install chromium` puts one
    return browser.launch_args(browser_type_launch_args, browser_type.name, os.environ, bundled)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    browser.attach_failure_artifacts(item, report)
    return report
