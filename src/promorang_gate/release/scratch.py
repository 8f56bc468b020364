"""``supabase db reset`` before anyone pushes: the release's migrations applied from scratch.

A throw-away database on the PostgreSQL the sandbox would use (``PROMORANG_SANDBOX_PG_DSN``, the
server on 127.0.0.1:5432, else a private cluster) gets the Supabase platform objects the sandbox
creates (roles, ``auth``, ``storage``, the ledger), then every migration in the CLI's order, each
in one transaction, statement by statement as the CLI sends them. The first failure is reported
with its file, its line (from the error position PostgreSQL gives) and PostgreSQL's message. The
database is dropped afterwards, whatever happened: failure, error or Ctrl-C.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promorang_gate.errors import GateError
from promorang_gate.release.migrations import LEDGER_TABLE, MigrationFile, duplicate_versions

if TYPE_CHECKING:
    from promorang_sandbox.sqlsplit import Statement

__all__ = [
    "SCRATCH_PREFIX",
    "MigrationFailed",
    "MigrationFailure",
    "ScratchResult",
    "ScratchUnavailable",
    "apply_from_scratch",
]

SCRATCH_PREFIX = "promorang_scratch_"
Log = Callable[[str], None]


class ScratchUnavailable(GateError):
    """No PostgreSQL to apply the migrations on: the check cannot run (item not_verified)."""


class MigrationFailed(AssertionError):
    """A migration does not apply on a fresh database."""


@dataclass(frozen=True)
class MigrationFailure:
    file: str  # relative to the repository
    line: int
    message: str

    def describe(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


@dataclass(frozen=True)
class ScratchResult:
    database: str
    applied: tuple[str, ...]  # file names, in order
    failure: MigrationFailure | None
    elapsed_s: float

    def raise_for_failure(self) -> None:
        __tracebackhide__ = True
        if self.failure is not None:
            done = f" (after {len(self.applied)} applied)" if self.applied else ""
            raise MigrationFailed(
                f"migrations do not apply from scratch: {self.failure.describe()}{done}"
            )


def apply_from_scratch(files: Sequence[MigrationFile], log: Log | None = None) -> ScratchResult:
    """Apply ``files`` to a new scratch database and drop it; ScratchUnavailable without
    PostgreSQL. Two files claiming one version fail like the CLI's ledger insert would."""
    from promorang_sandbox.errors import PostgresUnavailable
    from promorang_sandbox.postgres import acquire_server

    started = time.monotonic()
    name = SCRATCH_PREFIX + secrets.token_hex(6)
    try:
        server = acquire_server(log)
    except PostgresUnavailable as exc:
        raise ScratchUnavailable(f"migrations cannot be applied from scratch: {exc}") from None
    with server:
        try:
            dsn = _create_database(server.admin_dsn, name)
            applied, failure = _apply_all(dsn, files)
        finally:
            _drop_database(server.admin_dsn, name)
    return ScratchResult(name, tuple(applied), failure, time.monotonic() - started)


def _create_database(admin_dsn: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    from promorang_sandbox.database import ensure_roles, platform_sql, with_dbname

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        ensure_roles(conn)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = with_dbname(admin_dsn, name)
    with psycopg.connect(dsn) as conn:
        conn.execute(platform_sql().encode())
    return dsn


def _drop_database(admin_dsn: str, name: str) -> None:
    """Drop the scratch database (idempotent); its backends are terminated first."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def _apply_all(
    dsn: str, files: Sequence[MigrationFile]
) -> tuple[list[str], MigrationFailure | None]:
    import psycopg

    duplicates = duplicate_versions(files)
    applied: list[str] = []
    with psycopg.connect(dsn) as conn:
        for f in files:
            if f.version in duplicates and f.file_name != duplicates[f.version][0]:
                others = ", ".join(n for n in duplicates[f.version] if n != f.file_name)
                message = f"version {f.version} is already used by {others} (the ledger's key)"
                return applied, MigrationFailure(f.relative, 1, message)
            failure = _apply_one(conn, f)
            if failure is not None:
                return applied, failure
            applied.append(f.file_name)
    return applied, None


def _apply_one(conn: Any, f: MigrationFile) -> MigrationFailure | None:
    """One file in one transaction, statement by statement; the failure, if any."""
    import psycopg

    from promorang_sandbox.sqlsplit import split

    statements = [s for s in split(f.text) if s.code_start < s.end]
    current: Statement | None = None
    try:
        with conn.transaction():
            for current in statements:
                conn.execute(current.text.encode())
            conn.execute(
                f"insert into {LEDGER_TABLE} (version, name, statements) values (%s, %s, %s)",
                (f.version, f.name, [s.trimmed for s in statements]),
            )
    except psycopg.Error as exc:
        return _failure(f, current, exc)
    return None


def _failure(f: MigrationFile, statement: Statement | None, exc: Any) -> MigrationFailure:
    from promorang_sandbox.sqlsplit import line_of

    diag = exc.diag
    message = diag.message_primary or str(exc).strip().splitlines()[0]
    if statement is None:
        return MigrationFailure(f.relative, 1, message)
    position = diag.statement_position
    if position and str(position).isdigit():
        # PostgreSQL counts characters from 1 within the statement it was sent.
        offset = statement.start + int(position) - 1
    else:
        offset = _named_offset(f.text, statement, message)
    return MigrationFailure(f.relative, line_of(f.text, offset), message)


def _named_offset(text: str, statement: Statement, message: str) -> int:
    """Without a position (PostgreSQL gives none for e.g. policy expressions or DDL on a missing
    relation), the first name the message quotes that the statement contains; else its start."""
    code = text[statement.code_start : statement.end]
    for name in re.findall(r'"([^"]+)"', message):
        found = re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", code, re.IGNORECASE)
        if found is not None:
            return statement.code_start + found.start()
    return statement.code_start
