"""One Playwright driver and one Chromium per worker, kept across its in-process gate runs.

Each in-process gate run is a pytest run of its own, and pytest-playwright starts a Playwright
driver (a Node process) and launches Chromium for every run, then stops both: a second or more
of every fault row. ``WarmChromium`` stands in for pytest-playwright's ``sync_playwright``: the
run's ``playwright`` fixture gets the worker's driver, whose ``stop`` is left to the worker, and
``launch`` gives the worker's browser for the same options (a new one if it was closed or
crashed), whose ``close`` closes the run's contexts only. Every browser check still opens its own
context and pages, as in a run of its own; only the processes are shared.
"""

from __future__ import annotations

import json
from typing import Any


class WarmChromium:
    def __init__(self) -> None:
        self._playwright: Any = None
        self._stop: Any = None
        self._browsers: dict[str, tuple[Any, Any]] = {}

    def sync_playwright(self) -> WarmChromium:
        """What pytest-playwright calls ``sync_playwright()``: something to ``start()``."""
        return self

    def start(self) -> Any:
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            self._stop = playwright.stop
            playwright.stop = lambda: None  # the run's teardown: the worker stops it
            chromium = playwright.chromium
            launch = chromium.launch
            chromium.launch = lambda **options: self._launch(launch, options)
            self._playwright = playwright
        return self._playwright

    def _launch(self, launch: Any, options: dict[str, Any]) -> Any:
        key = json.dumps(options, sort_keys=True, default=str)
        kept = self._browsers.get(key)
        if kept is not None and kept[0].is_connected():
            return kept[0]
        browser = launch(**options)
        close = browser.close
        # The run's teardown closes what the run opened; the process stays for the next run.
        browser.close = lambda **_: [context.close() for context in list(browser.contexts)]
        self._browsers[key] = (browser, close)
        return browser

    def close(self) -> None:
        for browser, close in self._browsers.values():
            if browser.is_connected():
                close()
        self._browsers.clear()
        if self._stop is not None:
            self._stop()
        self._playwright = self._stop = None
