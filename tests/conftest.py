"""Shared helpers of the project's own tests.

One sandbox (the packaged `promorang_sandbox` fixture) serves the whole session: the sandbox's
own tests, the contract suite's proofs and the fault matrix. The gate's suites run against it
as subprocesses, exactly as an engineer or CI would run them.
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
from typing import Any

import pytest

pytest_plugins = ["promorang_sandbox.pytest_fixture"]

REPO_ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture
def run_gate(sandbox_state_file: Path, tmp_path: Path) -> Any:
    """Runs the gate's suites in a subprocess against the shared sandbox."""

    def run(
        args: Sequence[str],
        env: dict[str, str] | None = None,
        timeout: float = 300,
        reports: Path | None = None,
    ) -> GateRun:
        reports = reports or tmp_path / f"reports-{len(list(tmp_path.iterdir()))}"
        command = [
            sys.executable,
            "-m",
            "pytest",
            *args,
            f"--gate-reports={reports}",  # one word: a path argument would move the rootdir
            f"--alluredir={reports / 'allure-results'}",
            "-p",
            "no:cacheprovider",
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
