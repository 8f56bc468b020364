"""`supabase db reset` before the push: the chain applies from scratch, or the first failing file
is named with its line and PostgreSQL's message; the scratch database never outlives the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from app_repos import (
    DEPENDENT_CHAIN,
    DEPENDENT_ERROR,
    POSITIONS_AS_WRITTEN,
    POSITIONS_AS_WRITTEN_ERROR_LINE,
    POSITIONS_FILE,
    POSITIONS_ONLY_CLAIM_WRONG,
    POSITIONS_ONLY_CLAIM_WRONG_ERROR_LINE,
    good_migrations,
    write_repo,
)
from promorang_gate.release import scratch
from promorang_gate.release.migrations import MigrationFile, read_migrations
from promorang_gate.release.scratch import (
    SCRATCH_PREFIX,
    MigrationFailed,
    ScratchUnavailable,
    apply_from_scratch,
)
from promorang_sandbox import postgres
from promorang_sandbox.errors import PostgresUnavailable


def _scratch_databases() -> set[str]:
    with postgres.acquire_server() as server, psycopg.connect(server.admin_dsn) as conn:
        rows = conn.execute(
            "select datname from pg_database where datname like %s", [SCRATCH_PREFIX + "%"]
        ).fetchall()
    return {r[0] for r in rows}


def _files(tmp_path: Path, migrations: dict[str, str]) -> list[MigrationFile]:
    return read_migrations(write_repo(tmp_path, migrations))


def _gone(name: str) -> bool:
    return name not in _scratch_databases()


def test_the_good_chain_applies_and_leaves_no_database(tmp_path: Path) -> None:
    result = apply_from_scratch(_files(tmp_path, good_migrations()))
    assert result.failure is None
    assert result.applied == tuple(sorted(good_migrations()))
    result.raise_for_failure()
    assert result.database.startswith(SCRATCH_PREFIX)
    assert _gone(result.database)


@pytest.mark.parametrize(
    ("positions", "line", "message"),
    [
        (POSITIONS_AS_WRITTEN, POSITIONS_AS_WRITTEN_ERROR_LINE, 'syntax error at or near "not"'),
        (
            POSITIONS_ONLY_CLAIM_WRONG,
            POSITIONS_ONLY_CLAIM_WRONG_ERROR_LINE,
            'missing FROM-clause entry for table "jwt"',
        ),
    ],
    ids=["as-written", "claim-as-column"],
)
def test_the_invalid_positions_migration_is_named_with_its_line(
    tmp_path: Path, positions: str, line: int, message: str
) -> None:
    result = apply_from_scratch(_files(tmp_path, {**good_migrations(), POSITIONS_FILE: positions}))
    assert result.failure is not None
    assert result.failure.file == f"supabase/migrations/{POSITIONS_FILE}"
    assert (result.failure.line, result.failure.message) == (line, message)
    assert len(result.applied) == 2
    with pytest.raises(MigrationFailed) as caught:
        result.raise_for_failure()
    assert str(caught.value) == (
        f"migrations do not apply from scratch: supabase/migrations/{POSITIONS_FILE},"
        f" line {line}: {message} (after 2 applied)"
    )
    assert _gone(result.database)


def test_a_migration_needing_a_table_no_earlier_one_created_fails(tmp_path: Path) -> None:
    result = apply_from_scratch(_files(tmp_path, DEPENDENT_CHAIN))
    assert result.failure is not None
    file, line, message = DEPENDENT_ERROR
    assert result.failure.file == f"supabase/migrations/{file}"
    assert result.failure.line == line
    assert result.failure.message.startswith(message)
    assert _gone(result.database)


def test_two_files_of_one_version_fail_like_the_ledger_key(tmp_path: Path) -> None:
    chain = {"1_a.sql": "select 1;", "1_b.sql": "select 2;"}
    result = apply_from_scratch(_files(tmp_path, chain))
    assert result.failure is not None
    assert result.failure.file == "supabase/migrations/1_b.sql"
    assert "version 1 is already used by 1_a.sql" in result.failure.message


def test_the_database_is_dropped_when_the_run_is_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of the chain: the first migration applied, the second interrupted."""
    created: list[str] = []
    real_create, real_apply = scratch._create_database, scratch._apply_one

    def create(admin_dsn: str, name: str) -> str:
        created.append(name)
        return real_create(admin_dsn, name)

    def apply_then_interrupt(conn: Any, f: MigrationFile) -> Any:
        if f.version != "202510270001":
            raise KeyboardInterrupt
        return real_apply(conn, f)

    monkeypatch.setattr(scratch, "_create_database", create)
    monkeypatch.setattr(scratch, "_apply_one", apply_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        apply_from_scratch(_files(tmp_path, good_migrations()))
    assert len(created) == 1
    assert _gone(created[0])


def test_without_postgresql_the_check_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_found(*_: Any) -> Path:
        raise PostgresUnavailable(postgres.NOT_FOUND)

    monkeypatch.delenv(postgres.DSN_ENV, raising=False)
    monkeypatch.setenv(postgres.PRIVATE_ENV, "1")
    monkeypatch.setattr(postgres, "find_bindir", not_found)
    with pytest.raises(ScratchUnavailable) as caught:
        apply_from_scratch(_files(tmp_path, good_migrations()))
    assert str(caught.value).startswith(
        "migrations cannot be applied from scratch: PostgreSQL not found:"
        " install it (e.g. apt-get install postgresql)"
    )
