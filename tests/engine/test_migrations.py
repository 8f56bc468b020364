"""The release's migrations as the Supabase CLI reads them, and the ledger compared both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app_repos import POSITIONS_AS_WRITTEN, POSITIONS_FILE, good_migrations, write_repo
from promorang_gate.release.migrations import (
    Ledger,
    LedgerMismatch,
    LedgerRow,
    MigrationFile,
    RepoLayoutError,
    canonical,
    check_ledger,
    check_recorded,
    duplicate_versions,
    positions_migration,
    read_ledger,
    read_migrations,
)
from promorang_sandbox import database
from promorang_sandbox.postgres import PostgresServer, acquire_server
from promorang_sandbox.sqlsplit import split_and_trim


def _files(tmp_path: Path, migrations: dict[str, str] | None = None) -> list[MigrationFile]:
    return read_migrations(write_repo(tmp_path, migrations))


def _recorded(files: list[MigrationFile]) -> Ledger:
    """The ledger the Supabase CLI leaves after pushing ``files``."""
    return Ledger(tuple(LedgerRow(f.version, f.name, tuple(split_and_trim(f.text))) for f in files))


def test_files_are_read_in_file_name_order_and_odd_names_are_skipped(tmp_path: Path) -> None:
    extra = {"README.md": "", "notes.sql": "select 1;", "20260109_short.sql": "select 1;"}
    files = _files(tmp_path, {**good_migrations(), **extra})
    assert [f.file_name for f in files] == [
        "202510270001_initial_schema.sql",
        "202510270002_extended_schema.sql",
        "202510290101_content_share_positions.sql",
        "20260109_short.sql",
    ]
    assert files[2].relative == f"supabase/migrations/{POSITIONS_FILE}"


def test_a_checkout_without_migrations_folder_fails_the_check(tmp_path: Path) -> None:
    with pytest.raises(RepoLayoutError, match="has no supabase/migrations/"):
        read_migrations(tmp_path)


def test_duplicate_versions_are_found(tmp_path: Path) -> None:
    files = _files(tmp_path, {"202607010006_a.sql": "", "202607010006_b.sql": "", "1_c.sql": ""})
    assert duplicate_versions(files) == {
        "202607010006": ["202607010006_a.sql", "202607010006_b.sql"]
    }


def test_the_positions_migration_is_the_one_creating_the_table(tmp_path: Path) -> None:
    files = _files(tmp_path, {**good_migrations(), POSITIONS_FILE: POSITIONS_AS_WRITTEN})
    found = positions_migration(files)
    assert found is not None
    assert found.version == "202510290101"
    assert positions_migration(files[:2]) is None


def test_canonical_equates_the_file_and_the_statements_recorded_from_it() -> None:
    text = "-- head\ncreate table a (x int) ;\n\n\tcreate index i\n  on a (x);;\n-- tail\n"
    assert canonical(";\n".join(split_and_trim(text))) == canonical(text)
    assert canonical(text) == canonical(text.replace("\n", "\r\n").replace("  ", " "))
    assert canonical(text) != canonical(text.replace("(x)", "(y)"))


def test_a_ledger_recorded_from_the_files_matches(tmp_path: Path) -> None:
    files = _files(tmp_path)
    check_ledger(files, _recorded(files), "staging")
    whole_files = Ledger(tuple(LedgerRow(f.version, f.name, (f.text,)) for f in files))
    check_ledger(files, whole_files, "staging")
    versions_only = Ledger(tuple(LedgerRow(f.version) for f in files))
    check_ledger(files, versions_only, "staging")


def test_missing_unknown_and_drifted_migrations_are_all_named(tmp_path: Path) -> None:
    files = _files(tmp_path)
    rows = list(_recorded(files).rows)
    drifted = LedgerRow(rows[0].version, rows[0].name, (rows[0].statements or ())[:-1])
    ledger = Ledger((drifted, rows[2], LedgerRow("202511010001", "hotfix")))
    with pytest.raises(LedgerMismatch) as caught:
        check_ledger(files, ledger, "staging")
    message = str(caught.value)
    assert message.startswith("the migration ledger of staging does not match the repository's")
    assert "not applied: 202510270002_extended_schema.sql" in message
    assert "applied but not in the repository: 202511010001" in message
    assert "applied differently from the file: 202510270001_initial_schema.sql (file has" in message
    assert "\n" not in message


def test_an_absent_ledger_table_is_said(tmp_path: Path) -> None:
    files = _files(tmp_path)
    with pytest.raises(LedgerMismatch, match="schema_migrations does not exist"):
        check_ledger(files, Ledger((), exists=False), "prod")


def test_one_recorded_migration(tmp_path: Path) -> None:
    files = _files(tmp_path)
    positions = files[2]
    check_recorded(positions, _recorded(files), "staging")
    with pytest.raises(LedgerMismatch, match=r"^migration 202510290101_content_share_positions"):
        check_recorded(positions, _recorded(files[:2]), "staging")
    edited = MigrationFile(positions.version, positions.name, positions.relative, "select 1;")
    with pytest.raises(LedgerMismatch, match="differs from the repository's file: file has"):
        check_recorded(edited, _recorded(files), "staging")


@pytest.fixture(scope="module")
def empty_db() -> Iterator[str]:
    """A throw-away database on the PostgreSQL the sandbox uses."""
    server: PostgresServer = acquire_server()
    with server:
        dsn = database.create_database(server.admin_dsn)
        try:
            yield dsn
        finally:
            database.drop_database(server.admin_dsn, dsn)


def test_the_ledger_is_read_whatever_columns_the_cli_version_left(empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert read_ledger(conn) == Ledger((), exists=False)
        conn.execute("create schema supabase_migrations")
        conn.execute(
            "create table supabase_migrations.schema_migrations (version text primary key)"
        )
        conn.execute("insert into supabase_migrations.schema_migrations values ('2'), ('1')")
        assert read_ledger(conn) == Ledger((LedgerRow("1"), LedgerRow("2")))
        conn.execute("alter table supabase_migrations.schema_migrations add column name text")
        conn.execute("alter table supabase_migrations.schema_migrations add statements text[]")
        conn.execute(
            "update supabase_migrations.schema_migrations"
            " set name = 'x', statements = array['select 1'] where version = '1'"
        )
        assert read_ledger(conn).rows[0] == LedgerRow("1", "x", ("select 1",))
        conn.execute("drop schema supabase_migrations cascade")
