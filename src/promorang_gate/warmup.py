"""Work the selected checks need anyway, done while the embedded sandbox starts.

A run that starts the sandbox waits for it at its first check: a new interpreter, its imports,
a database, its servers (a second or more on a 2-core machine). What the selected checks will
need and that does not need the target (the Supabase client's and schemathesis' imports, the
contract's spec and invalid cases, the browser driver) is registered at collection and done in
that wait. Each job is the same work its check would do first, only earlier; one that fails is
left for its check to do again and report. The jobs run in the main thread, not in a thread of
their own: a second thread importing while the checks import could deadlock on a module lock.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

__all__ = ["Job", "prepare", "prepare_engine", "run_prepared"]

Job = Callable[[pytest.FixtureRequest], object]

_JOBS = pytest.StashKey[list[Job]]()


def prepare(config: pytest.Config, job: Job) -> None:
    """Do ``job(request)`` while the sandbox starts (if it does; else the check does it)."""
    config.stash.setdefault(_JOBS, []).append(job)


def run_prepared(request: pytest.FixtureRequest) -> None:
    """Run the registered jobs once, in order; a job's failure is its check's to report."""
    jobs = request.config.stash.get(_JOBS, [])
    request.config.stash[_JOBS] = []
    for job in jobs:
        try:
            job(request)
        except (Exception, pytest.skip.Exception, pytest.fail.Exception):
            continue  # the check needing it meets the same error (a fixture's is kept) itself


def prepare_engine(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The engine's own jobs for the selected ``items``: the Supabase client's imports (0.4 s)
    and Playwright's driver, a Node process that takes 0.6 s to answer."""
    needed = {name for item in items for name in getattr(item, "fixturenames", ())}
    if "gate_supabase" in needed:
        prepare(config, _import_supabase)
    if "playwright" in needed:
        prepare(config, _start_playwright)


def _import_supabase(request: pytest.FixtureRequest) -> None:
    import supabase.lib.client_options  # noqa: F401


def _start_playwright(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("playwright")  # pytest-playwright's, session-wide
