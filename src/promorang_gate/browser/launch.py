"""Which Chromium the browser checks launch, and how.

The system's Chromium (Debian's ``chromium`` package), never a browser download at run time:
``GATE_CHROMIUM`` names a binary; else the first of the usual names on ``PATH``; else a
Chromium that ``playwright install chromium`` put in Playwright's own cache. pytest-playwright's
``--browser-channel`` (e.g. ``chrome``) takes precedence: Playwright then finds that browser.

A headless run prefers Chromium's headless shell (Debian's ``chromium-headless-shell``) when
the machine has one: the same Blink and V8 without the desktop browser around them, what
Playwright itself runs for headless Chromium. The full browser, headless, rasterizes in
software and took five times the CPU for the same pages (10 x 2 page loads of the sandbox's
frontend: 8.7 against 1.7 CPU seconds). ``--headed`` needs the full browser and gets it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from promorang_gate.errors import ConfigError

__all__ = [
    "CHROMIUM_ENV",
    "CHROMIUM_NAMES",
    "HEADLESS_SHELL",
    "NO_CHROMIUM",
    "OFFLINE_FLAGS",
    "check_chromium_setting",
    "find_chromium",
    "launch_args",
]

CHROMIUM_ENV = "GATE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
HEADLESS_SHELL = "chromium-headless-shell"
# Keep the browser from calling home: the checks must reach the environment and nothing else.
OFFLINE_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NO_CHROMIUM = (
    "no Chromium for the browser checks: apt-get install chromium (Debian/Ubuntu), "
    f"or .venv/bin/playwright install chromium, or set {CHROMIUM_ENV}=/path/to/chromium"
)


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def check_chromium_setting(environ: Mapping[str, str]) -> None:
    """ConfigError when ``GATE_CHROMIUM`` is set but names no executable file."""
    path = environ.get(CHROMIUM_ENV)
    if path and not _executable(path):
        raise ConfigError(
            f"{CHROMIUM_ENV}={path}: no executable there; point it at a Chromium binary "
            "(Debian: /usr/bin/chromium) or unset it"
        )


def find_chromium(
    environ: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
    bundled: str | None = None,
    *,
    headless: bool = True,
) -> str | None:
    """The Chromium binary to launch, or None when the machine has none."""
    configured = environ.get(CHROMIUM_ENV)
    if configured:
        return configured if _executable(configured) else None
    for name in (HEADLESS_SHELL, *CHROMIUM_NAMES) if headless else CHROMIUM_NAMES:
        found = which(name)
        if found:
            return found
    return bundled if bundled and _executable(bundled) else None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def launch_args(
    base: Mapping[str, Any],
    browser_name: str,
    environ: Mapping[str, str],
    bundled: str | None = None,
) -> dict[str, Any]:
    """pytest-playwright's launch options plus the system Chromium and the offline flags;
    skips (the check stays not verified) when there is no Chromium."""
    options = dict(base)
    if browser_name != "chromium":
        return options
    # Chromium's sandbox refuses to start as root (CI containers) unless told not to use it.
    extra = [*OFFLINE_FLAGS, *(["--no-sandbox"] if _is_root() else [])]
    options["args"] = [*options.get("args", []), *extra]
    if options.get("channel") or options.get("executable_path"):
        return options
    path = find_chromium(environ, bundled=bundled, headless=options.get("headless", True))
    if path is None:
        pytest.skip(NO_CHROMIUM)
    options["executable_path"] = path
    return options
