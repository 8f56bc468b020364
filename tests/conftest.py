"""Shared helpers of the project's own tests.

One sandbox (the packaged `promorang_sandbox` fixture) serves the whole session: the sandbox's
own tests, the contract suite's proofs and the fault matrix. The gate's suites run against it
in the worker's process (``run_gate_inprocess``), or as subprocesses exactly as an engineer or
CI runs them (``run_gate``) where the proof is the command itself or needs a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from project_helpers import seeded_reports
from temp_in_memory import use_memory_for_temp_files
from warm_chromium import WarmChromium

# Before pytest picks its temp root, and before xdist starts the workers (they inherit it).
use_memory_for_temp_files()

pytest_plugins = ["promorang_sandbox.pytest_fixture"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests"


@pytest.fixture
def repo_root() -> Path:
    """The checkout, for tests that copy the shipped checklists or suites into a temp dir."""
    return REPO_ROOT


@dataclass(frozen=True)
class GateRun:
    returncode: int
    output: str
    reports: Path
    elapsed_s: float

    def gate(self, env: str = "sandbox") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.reports / f"gate-{env}.json").read_text())
        return data

    def items(self, env: str = "sandbox") -> dict[str, dict[str, Any]]:
        return {
            item["id"]: item
            for checklist in self.gate(env)["checklists"]
            for item in checklist["items"]
        }

    def failed_items(self, env: str = "sandbox") -> set[str]:
        return {i for i, item in self.items(env).items() if item["status"] == "failed"}


@pytest.fixture(scope="session")
def sandbox(promorang_sandbox: Any) -> Any:
    """The session's one sandbox; proofs that switch faults switch them back in `finally`."""
    return promorang_sandbox


@pytest.fixture(scope="session")
def relative_sandbox() -> Iterator[Any]:
    """A second sandbox whose frontend calls relative /api, forwarded by its host to the API
    (``--frontend-mode relative``, the production host's rewrite); the shared one is absolute."""
    from promorang_sandbox import start_sandbox

    handle = start_sandbox(ready_timeout_s=60, extra_args=["--frontend-mode", "relative"])
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def relative_sandbox_env(
    relative_sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """``run_gate(..., env=relative_sandbox_env)`` runs the gate against the relative sandbox."""
    path = tmp_path_factory.mktemp("relative-sandbox") / "state.json"
    path.write_text(relative_sandbox.state.to_json())
    return {"PROMORANG_SANDBOX_STATE": str(path)}


@pytest.fixture(scope="session")
def sandbox_state_file(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "state.json"
    path.write_text(sandbox.state.to_json())
    return path


@pytest.fixture(autouse=True)
def _hypothesis_notes_forgotten() -> Iterator[None]:
    """hypothesis' pytest plugin is off in this run, so hypothesis counts itself as still being
    imported, and notes a strategy that a test builds here (the contract's cases drawn in this
    process) as a plugin's slow start-up; the next in-process pytest run that loads the plugin
    then fails on that note's warning, whichever test it belongs to. The note is forgotten after
    each test."""
    yield
    configuration = sys.modules.get("hypothesis.configuration")
    if configuration is not None:
        configuration.notice_initialization_restarted(warn=False)


@pytest.fixture(scope="session")
def gate_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's cache for the gate runs of this session, shared by its workers (the session's
    temp root; a worker's own is one below): as an engineer's runs share ``.pytest_cache``, they
    share the contract's drawn and generated cases, kept under a digest of what made them.
    Without it each new process drew and generated them again (1-2 CPU s): the -n 2 runs' two
    workers, the README's recipes, every worker's first in-process run."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return root / "gate-cache"


@pytest.fixture
def run_gate(sandbox_state_file: Path, gate_cache_dir: Path, tmp_path: Path) -> Any:
    """Runs the gate's suites in a subprocess against the shared sandbox."""
    return subprocess_gate_runner(sandbox_state_file, tmp_path, gate_cache_dir)


def subprocess_gate_runner(sandbox_state_file: Path, tmp_path: Path, cache_dir: Path) -> Any:
    """``run_gate``'s runner: each run a new interpreter, as an engineer or CI runs it."""

    def run(
        args: Sequence[str],
        env: dict[str, str] | None = None,
        timeout: float = 300,
        reports: Path | None = None,
    ) -> GateRun:
        reports = reports or seeded_reports(tmp_path / f"reports-{len(list(tmp_path.iterdir()))}")
        command = [
            sys.executable,
            "-m",
            "pytest",
            *args,
            f"--gate-reports={reports}",  # one word: a path argument would move the rootdir
            f"--alluredir={reports / 'allure-results'}",
            "-o",
            f"cache_dir={cache_dir}",
            "-q",
        ]
        started = time.monotonic()
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            # The variable, not --sandbox-state: runs against other envs refuse the option.
            env={**os.environ, "PROMORANG_SANDBOX_STATE": str(sandbox_state_file), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = completed.stdout + completed.stderr
        return GateRun(completed.returncode, output, reports, time.monotonic() - started)

    return run


@pytest.fixture
def listed_content(sandbox: Any) -> Iterator[None]:
    """Two items that are not the gate's, as any production holds: a read-only run pages
    through the whole listing, and an empty listing would prove no paging."""
    import psycopg

    insert = "insert into public.content_items (title) values (%s) returning id"
    with psycopg.connect(sandbox.state.database_url, autocommit=True) as conn:
        ids = [conn.execute(insert, [f"listed {n}: no gate tag"]).fetchone()[0] for n in (1, 2)]
    try:
        yield
    finally:
        with psycopg.connect(sandbox.state.database_url, autocommit=True) as conn:
            conn.execute("delete from public.content_items where id = any(%s)", [ids])


# Modules a gate run imports that stay loaded between in-process runs: importing them again
# would cost every run its import (schemathesis and hypothesis alone ~1.3 s), and the gate's
# contract checks register themselves with schemathesis once, on import.
WARM_MODULES = (
    "promorang_gate.contract.runner",
    "promorang_gate.plugin",
    "schemathesis",
    "hypothesis",
    "playwright.sync_api",
    "pytest_playwright.pytest_playwright",
    "allure_pytest.plugin",
    "supabase",
    "psycopg",
)
IN_PROCESS_WARNINGS = (
    "-W",
    "ignore::pytest.PytestUnraisableExceptionWarning",
    "-W",
    "ignore::ResourceWarning",
    "-W",
    "ignore::hypothesis.errors.HypothesisSideeffectWarning",
)
# What an xdist worker sets for itself; a gate run inside it must not believe it is a worker.
_WORKER_VARIABLES = (
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
    "PYTEST_CURRENT_TEST",
)


def _is_project_test_module(name: str, module: Any) -> bool:
    """A module of this directory imported by its base name (a test module, a helper)."""
    path = getattr(module, "__file__", None)
    return "." not in name and path is not None and Path(path).is_relative_to(TESTS_DIR)


@pytest.fixture(scope="session")
def warm_gate_modules() -> None:
    """Imports the gate run's heavy modules once per worker, before any ``pytester`` snapshot:
    a snapshot restores sys.modules to what was loaded when it was taken."""
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)


_LIBRARY_ROOTS = tuple({os.path.join(p, "") for p in (sys.prefix, sys.base_prefix)})


class _LibrariesLoaded:
    """The modules of installed libraries and of Python itself that an in-process run
    imported: pytester takes them out of sys.modules when the run ends, and again when its
    test ends (its own snapshot, taken at the test's start), and the next run imported them
    again (and rebuilt their caches: hypothesis' character tables, schemathesis' generators;
    some 200 modules a row). ``kept`` holds them for the worker and ``restore`` puts them back
    before each run; the checkout's own modules (the suites, their conftests, the engine) are
    left to each run."""

    kept: ClassVar[dict[str, Any]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        for name, module in list(sys.modules.items()):
            where = getattr(module, "__file__", None) or ""
            if where.startswith(_LIBRARY_ROOTS):
                self.kept.setdefault(name, module)

    @classmethod
    def restore(cls) -> None:
        for name, module in cls.kept.items():
            sys.modules.setdefault(name, module)


@pytest.fixture(scope="session")
def warm_chromium(warm_gate_modules: None) -> Iterator[WarmChromium]:
    """The worker's Playwright driver and Chromium, shared by its in-process gate runs."""
    warm = WarmChromium()
    try:
        yield warm
    finally:
        warm.close()


@pytest.fixture
def run_gate_inprocess(
    warm_gate_modules: None,
    warm_chromium: WarmChromium,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_state_file: Path,
    gate_cache_dir: Path,
    tmp_path: Path,
) -> Any:
    """``run_gate`` without a new interpreter: the same command line, run by ``pytester`` in
    this process from the checkout, against the shared sandbox. What a subprocess pays on every
    run is paid once per worker: Python's start-up, the plugins' imports and the contract's
    schemathesis schema (``load_schema`` is cached). sys.modules, sys.path, the working
    directory and the environment are restored after each run. The browser checks' Playwright
    driver and Chromium are the worker's (``warm_chromium``), not started anew. A row whose run
    must be a process of its own (signals, exit codes of the interpreter) uses ``run_gate``.
    ``GATE_TESTS_SUBPROCESS=1`` runs these in subprocesses too, to compare."""
    home = os.environ.get("HOME")

    def run(
        args: Sequence[str],
        env: dict[str, str] | None = None,
        timeout: float = 300,
        reports: Path | None = None,
    ) -> GateRun:
        reports = reports or seeded_reports(tmp_path / f"reports-{len(list(tmp_path.iterdir()))}")
        with monkeypatch.context() as patch:
            patch.chdir(REPO_ROOT)
            if home is not None:  # pytester points HOME at its temp dir
                patch.setenv("HOME", home)
            for name in _WORKER_VARIABLES:
                patch.delenv(name, raising=False)
            patch.setenv("PROMORANG_SANDBOX_STATE", str(sandbox_state_file))
            patch.setattr(
                "pytest_playwright.pytest_playwright.sync_playwright", warm_chromium.sync_playwright
            )
            # This session's own test modules are imported under their base names (rootdir
            # tests/, no packages), and smoke/ has namesakes (test_frontend, test_migrations):
            # pytest refuses a second file under a loaded name. They are set aside for the run.
            for name in [n for n, m in sys.modules.items() if _is_project_test_module(n, m)]:
                patch.delitem(sys.modules, name)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            started = time.monotonic()
            _LibrariesLoaded.restore()
            result = pytester.runpytest_inprocess(
                *args,
                f"--gate-reports={reports}",
                f"--alluredir={reports / 'allure-results'}",
                "-o",
                f"cache_dir={gate_cache_dir}",
                "-q",
                # Warnings a run in this process can see that a process of its own never does:
                # sockets of this session's fixtures collected during the run, and hypothesis
                # counting the run's start-up as its own import (strategies built then warn).
                *IN_PROCESS_WARNINGS,
                plugins=[_LibrariesLoaded()],
            )
            elapsed = time.monotonic() - started
        output = "\n".join([*result.outlines, *result.errlines])
        assert elapsed < timeout, f"the run took {elapsed:.0f} s (budget {timeout:.0f} s)"
        return GateRun(int(result.ret), output, reports, elapsed)

    if os.environ.get("GATE_TESTS_SUBPROCESS") == "1":
        return subprocess_gate_runner(sandbox_state_file, tmp_path, gate_cache_dir)
    return run


# A whole gate run against the sandbox (a subprocess or in-process run of the gate's suites)
# takes seconds: such a test is a proof of the slow kind whatever its module says, so that
# ``pytest tests -m "not slow"`` is the inner loop over the engine's and sandbox's own tests.
_WHOLE_RUN_FIXTURES = frozenset({"run_gate", "run_gate_inprocess", "relative_sandbox"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _WHOLE_RUN_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
