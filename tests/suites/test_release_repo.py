"""The release under test, end to end: the gate's suites read fixture repositories and the shared
sandbox's ledger, and block on exactly the defect each repository carries. Scratch databases
never outlive a run: not after a failed migration, not after Ctrl-C."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app_repos import (
    DEPENDENT_CHAIN,
    NOTES_WITHOUT_ROLLBACK,
    POSITIONS_AS_WRITTEN,
    POSITIONS_AS_WRITTEN_ERROR_LINE,
    POSITIONS_FILE,
    good_migrations,
    write_repo,
)
from project_helpers import ENDPOINTS, env_at_sandbox, sigint_interrupts
from promorang_gate.release.scratch import SCRATCH_PREFIX

pytestmark = pytest.mark.slow

RELEASE = ("smoke", "-m", "migrations or growth_hub")
REPO_ITEMS = (
    "migrations.apply_from_scratch",
    "growth_hub.migrations_applied",
    "growth_hub.api_docs",
    "growth_hub.rollback_plan",
)


def _scratch_databases(sandbox: Any) -> set[str]:
    with psycopg.connect(sandbox.state.database_url) as conn:
        rows = conn.execute(
            "select datname from pg_database where datname like %s", [SCRATCH_PREFIX + "%"]
        ).fetchall()
    return {r[0] for r in rows}


def _scratch_databases_left(sandbox: Any, before: set[str]) -> set[str]:
    """Scratch databases created since ``before`` that stay: other workers' gate runs create
    (and drop) their own meanwhile, so one seen once is waited for, up to 30 s, to go."""
    deadline = time.monotonic() + 30
    while (left := _scratch_databases(sandbox) - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _statuses(run: Any) -> dict[str, str]:
    return {i: item["status"] for i, item in run.items().items() if i in REPO_ITEMS}


def test_the_sandbox_brings_its_own_repository_and_passes(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    sandbox.set_faults([])
    run = run_gate_inprocess(RELEASE)
    assert set(_statuses(run).values()) == {"passed"}, run.output
    assert run.items()["migrations.apply_from_scratch"]["metrics"]["migrations_applied"] == 3


def test_the_promotion_gate_allows_a_good_release(
    sandbox: Any, run_gate_inprocess: Any, tmp_path: Path
) -> None:
    sandbox.set_faults([])
    repo = write_repo(tmp_path / "release")
    # The repository is no git checkout: the release's commit is the one the sandbox deployed.
    deployed = subprocess.run(
        ["git", "-C", sandbox.state.app_repo, "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    run = run_gate_inprocess(
        ("--gate", "promotion", f"--app-repo={repo}", f"--expect-commit={deployed}")
    )
    assert run.returncode == 0, run.output
    assert run.gate()["verdict"] == "allow", run.output
    assert run.gate()["gate"]["name"] == "promotion"
    assert set(_statuses(run).values()) == {"passed"}
    metrics = run.items()["migrations.apply_from_scratch"]["metrics"]
    assert metrics["app_repo"] == f"{repo} (not a git checkout)"


def test_the_invalid_positions_migration_is_named_with_its_line(
    sandbox: Any, run_gate_inprocess: Any, tmp_path: Path
) -> None:
    before = _scratch_databases(sandbox)
    bad = write_repo(tmp_path / "bad", {**good_migrations(), POSITIONS_FILE: POSITIONS_AS_WRITTEN})
    run = run_gate_inprocess(("smoke", "-m", "migrations", f"--app-repo={bad}"))
    item = run.items()["migrations.apply_from_scratch"]
    assert item["status"] == "failed", run.output
    assert item["reason"].endswith(
        f"migrations do not apply from scratch: supabase/migrations/"
        f"{POSITIONS_FILE}, line {POSITIONS_AS_WRITTEN_ERROR_LINE}:"
        ' syntax error at or near "not" (after 2 applied)'
    )
    assert not _scratch_databases_left(sandbox, before)

    good = write_repo(tmp_path / "good")
    run = run_gate_inprocess(("smoke", "-m", "migrations", f"--app-repo={good}"))
    assert run.items()["migrations.apply_from_scratch"]["status"] == "passed", run.output
    assert not _scratch_databases_left(sandbox, before)


def test_a_chain_needing_a_table_it_never_created_fails(
    sandbox: Any, run_gate_inprocess: Any, tmp_path: Path
) -> None:
    repo = write_repo(tmp_path / "release", DEPENDENT_CHAIN)
    run = run_gate_inprocess(("smoke", "-m", "migrations", f"--app-repo={repo}"))
    reason = run.items()["migrations.apply_from_scratch"]["reason"]
    assert "202510280003_growth_hub_indexes.sql, line 5:" in reason, run.output
    assert 'relation "public.shield_policies" does not exist' in reason


def test_the_ledger_is_compared_with_the_repository(
    sandbox: Any, run_gate_inprocess: Any, tmp_path: Path
) -> None:
    """A repo with a migration the sandbox never applied, and without one it did."""
    migrations = good_migrations()
    del migrations["202510270002_extended_schema.sql"]
    migrations["202511010001_growth_hub.sql"] = "select 1;\n"
    repo = write_repo(tmp_path / "release", migrations)
    run = run_gate_inprocess(("smoke", "-m", "growth_hub", f"--app-repo={repo}"))
    reason = run.items()["growth_hub.migrations_applied"]["reason"]
    assert "not applied: 202511010001_growth_hub.sql" in reason, run.output
    assert "applied but not in the repository: 202510270002" in reason


def test_a_version_missing_from_the_ledger_is_named(sandbox: Any, run_gate_inprocess: Any) -> None:
    sandbox.set_faults(["migration_not_applied"])
    try:
        run = run_gate_inprocess(("smoke", "-m", "growth_hub"))
    finally:
        sandbox.set_faults([])
    reason = run.items()["growth_hub.migrations_applied"]["reason"]
    assert "not applied: 202510270002_extended_schema.sql" in reason, run.output


def test_without_postgresql_the_scratch_item_is_not_verified(
    run_gate_inprocess: Any, tmp_path: Path
) -> None:
    """No server answers where the variable points: nothing to apply the migrations on."""
    run = run_gate_inprocess(
        ("smoke", "-m", "migrations"),
        env={"PROMORANG_SANDBOX_PG_DSN": "postgresql://postgres@127.0.0.1:9/postgres"},
    )
    item = run.items()["migrations.apply_from_scratch"]
    assert item["status"] == "not_verified", run.output
    assert item["reason"].startswith("migrations cannot be applied from scratch:")


def test_launch_evidence_missing_from_the_repository_blocks(
    sandbox: Any, run_gate_inprocess: Any, tmp_path: Path
) -> None:
    today = dt.date.today().isoformat()
    repo = write_repo(
        tmp_path / "release",
        api_docs="# API\n\n- `GET /api/health`\n",
        notes={today: NOTES_WITHOUT_ROLLBACK, "2025-10-29": NOTES_WITHOUT_ROLLBACK},
    )
    run = run_gate_inprocess(("smoke", "-m", "growth_hub", f"--app-repo={repo}"))
    items = run.items()
    assert run.failed_items() == {"growth_hub.api_docs", "growth_hub.rollback_plan"}, run.output
    assert (
        "does not document 6 operation(s) the API serves" in items["growth_hub.api_docs"]["reason"]
    )
    assert (
        f"docs/releases/{today}.md has no rollback section"
        in (items["growth_hub.rollback_plan"]["reason"])
    )
    run = run_gate_inprocess(
        ("smoke", "-m", "growth_hub", f"--app-repo={repo}", "--release-date", "2025-10-30")
    )
    assert (
        "docs/releases/2025-10-30.md does not exist"
        in (run.items()["growth_hub.rollback_plan"]["reason"])
    )


def test_without_a_database_url_the_ledger_items_are_not_verified(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    """Staging (the sandbox standing in) given everything but its database URL."""
    state = sandbox.state
    staging = env_at_sandbox(state, "staging", *ENDPOINTS, "APP_REPO")
    run = run_gate_inprocess(
        ("smoke", "-m", "growth_hub", "-k", "migration", "--env", "staging"), staging
    )
    item = run.items("staging")["growth_hub.migrations_applied"]
    assert item["status"] == "not_verified", run.output
    assert "needs a database URL: set GATE_STAGING_DATABASE_URL" in item["reason"]


def test_ctrl_c_during_a_migration_drops_the_scratch_database(
    sandbox: Any, sandbox_state_file: Path, tmp_path: Path, repo_root: Path
) -> None:
    slow = {**good_migrations(), "202511010001_slow.sql": "select pg_sleep(60);\n"}
    repo = write_repo(tmp_path / "release", slow)
    before = _scratch_databases(sandbox)
    command = [sys.executable, "-m", "pytest", "smoke", "-m", "migrations", f"--app-repo={repo}"]
    process = subprocess.Popen(
        [*command, "-p", "no:cacheprovider", f"--gate-reports={tmp_path / 'reports'}"],
        cwd=repo_root,
        env={**os.environ, "PROMORANG_SANDBOX_STATE": str(sandbox_state_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=sigint_interrupts,
    )
    try:
        name = _wait_for_sleeping_migration(sandbox, before, process)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert name not in _scratch_databases(sandbox), output
    assert not _scratch_databases_left(sandbox, before), output


def _wait_for_sleeping_migration(sandbox: Any, before: set[str], process: Any) -> str:
    """The scratch database whose migration is sleeping; polled within a deadline."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the run ended before its migration slept:\n{process.communicate()[0]}")
        with psycopg.connect(sandbox.state.database_url) as conn:
            row = conn.execute(
                "select datname from pg_stat_activity where datname like %s"
                " and query like '%%pg_sleep%%' and state = 'active'",
                [SCRATCH_PREFIX + "%"],
            ).fetchone()
        if row is not None and row[0] not in before:
            return str(row[0])
        time.sleep(0.1)  # another process's progress; bounded by the deadline
    pytest.fail("no scratch migration started sleeping within 60 s")
