"""Work the selected checks need anyway, done while the embedded sandbox starts.

A run that starts the sandbox waits for it at its first check: a new interpreter, its imports,
a database, its servers (a second or more on a 2-core machine). What the selected checks will
need and that does not need the target (the Supabase client's and schemathesis' imports, the
contract's spec and invalid cases, the browser driver) is registered at collection and done in
that wait. Each job is the same work its check would do first, only earlier; one that fails is
left for its check to do again and report.

A job that mostly waits for another process (Playwright's driver: Node takes 0.4-0.6 s to
answer) runs in the main thread while the others run in one helper thread, which is joined
before any check runs: the import lock cannot deadlock, because the waiting job imports none of
the modules the working jobs import (its own driver's three), and no check's code runs beside
the helper. Working jobs must not ask for fixtures (pytest is not thread-safe); waiting jobs may.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable

import pytest

__all__ = ["Job", "prepare", "prepare_engine", "run_prepared"]

Job = Callable[[pytest.FixtureRequest], object]

_JOBS = pytest.StashKey[list[tuple[Job, bool]]]()


def prepare(config: pytest.Config, job: Job, *, waits: bool = False) -> None:
    """Do ``job(request)`` while the sandbox starts (if it does; else the check does it).
    ``waits``: the job mostly waits for another process, and may ask for fixtures."""
    config.stash.setdefault(_JOBS, []).append((job, waits))


def run_prepared(request: pytest.FixtureRequest) -> None:
    """Run the registered jobs once: the waiting ones here, the others meanwhile in a helper
    thread, joined before returning; a job's failure is its check's to report."""
    jobs = request.config.stash.get(_JOBS, [])
    request.config.stash[_JOBS] = []
    working = [job for job, waits in jobs if not waits]
    waiting = [job for job, waits in jobs if waits]
    if waiting:
        helper = threading.Thread(
            target=_run, args=(working, request), name="promorang-gate-warmup", daemon=True
        )
        helper.start()
        try:
            _run(waiting, request)
        finally:
            helper.join()
    else:
        _run(working, request)
    # What the jobs loaded (modules, the spec, the cases) lives until the end, as what was
    # loaded before collection did (plugin.py): set aside from the garbage collector, whose
    # full passes walked it all (measured: three passes of 45-60 ms each -> 4-17 ms).
    gc.freeze()


def _run(jobs: Iterable[Job], request: pytest.FixtureRequest) -> None:
    for job in jobs:
        try:
            job(request)
        except (Exception, pytest.skip.Exception, pytest.fail.Exception):
            continue  # the check needing it meets the same error (a fixture's is kept) itself


def prepare_engine(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The engine's own jobs for the selected ``items``: the Supabase client's imports (0.3 s)
    and Playwright's driver."""
    needed = {name for item in items for name in getattr(item, "fixturenames", ())}
    if "gate_supabase" in needed:
        prepare(config, _import_supabase)
    if "playwright" in needed:
        prepare(config, _start_playwright, waits=True)


def _import_supabase(request: pytest.FixtureRequest) -> None:
    import supabase.lib.client_options  # noqa: F401


def _start_playwright(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("playwright")  # pytest-playwright's, session-wide
