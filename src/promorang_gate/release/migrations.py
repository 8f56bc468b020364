"""The release's migrations (``supabase/migrations``) and the target's migration ledger.

The Supabase CLI applies ``<version>_<name>.sql`` files in file-name order and records each in
``supabase_migrations.schema_migrations`` (``version``; newer CLIs also ``name`` and the file's
``statements``). ``supabase migration list`` compares versions only; a ledger whose statements
differ from the file means the file was edited after the push, or the target was changed by
hand. We compare both, statements after normalising white space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LEDGER_TABLE",
    "MIGRATIONS_DIR",
    "POSITIONS_TABLE",
    "Ledger",
    "LedgerMismatch",
    "LedgerRow",
    "MigrationFile",
    "RepoLayoutError",
    "canonical",
    "check_ledger",
    "check_recorded",
    "duplicate_versions",
    "positions_migration",
    "read_ledger",
    "read_migrations",
]

MIGRATIONS_DIR = "supabase/migrations"
LEDGER_TABLE = "supabase_migrations.schema_migrations"
POSITIONS_TABLE = "content_share_positions"
# The CLI's own pattern; other files in the folder are skipped, as the CLI skips them.
_FILE_NAME = re.compile(r"^([0-9]+)_(.*)\.sql$")
_CREATES_POSITIONS = re.compile(
    rf'create\s+table\s+(?:if\s+not\s+exists\s+)?(?:"?public"?\s*\.\s*)?"?{POSITIONS_TABLE}"?\b',
    re.IGNORECASE,
)
_CONTEXT = 40


class RepoLayoutError(AssertionError):
    """The repository lacks what the check reads (a check failure, not a usage error)."""


class LedgerMismatch(AssertionError):
    """The target's migration ledger does not match the release's migrations."""


@dataclass(frozen=True)
class MigrationFile:
    version: str
    name: str
    relative: str  # e.g. "supabase/migrations/202510290101_content_share_positions.sql"
    text: str = field(repr=False)

    @property
    def file_name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]


def read_migrations(repo: Path) -> list[MigrationFile]:
    """The repo's migrations in the CLI's order (file name); RepoLayoutError without the folder."""
    folder = repo / MIGRATIONS_DIR
    if not folder.is_dir():
        raise RepoLayoutError(f"{repo} has no {MIGRATIONS_DIR}/: not a Supabase project checkout")
    files: list[MigrationFile] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        match = _FILE_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        files.append(MigrationFile(match[1], match[2], f"{MIGRATIONS_DIR}/{path.name}", text))
    return files


def duplicate_versions(files: Iterable[MigrationFile]) -> dict[str, list[str]]:
    """version -> file names, for versions more than one file claims (the ledger's key)."""
    by_version: dict[str, list[str]] = {}
    for f in files:
        by_version.setdefault(f.version, []).append(f.file_name)
    return {v: names for v, names in by_version.items() if len(names) > 1}


def positions_migration(files: Iterable[MigrationFile]) -> MigrationFile | None:
    """The migration that creates ``content_share_positions``, if any does."""
    return next((f for f in files if _CREATES_POSITIONS.search(f.text)), None)


# -- the ledger ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    version: str
    name: str | None = None
    statements: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Ledger:
    """The target's ``schema_migrations``; ``exists`` is False when the table is not there."""

    rows: tuple[LedgerRow, ...]
    exists: bool = True

    def row(self, version: str) -> LedgerRow | None:
        return next((r for r in self.rows if r.version == version), None)


def read_ledger(conn: Any) -> Ledger:
    """Read the ledger through a psycopg connection (read-only statements only)."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", [LEDGER_TABLE])
        if not cur.fetchone()[0]:
            return Ledger((), exists=False)
        cur.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'supabase_migrations' and table_name = 'schema_migrations'"
        )
        columns = {r[0] for r in cur.fetchall()}
        name = "name" if "name" in columns else "null::text"
        statements = "statements" if "statements" in columns else "null::text[]"
        # The column names come from the catalogue, never from input.
        cur.execute(f"select version, {name}, {statements} from {LEDGER_TABLE} order by version")
        rows = cur.fetchall()
    return Ledger(tuple(LedgerRow(str(v), n, None if s is None else tuple(s)) for v, n, s in rows))


def canonical(sql: str) -> str:
    """SQL with white space normalised and statement ends unified: equal for the file and for
    the statements the CLI recorded from it (trimmed, without their ``;``)."""
    text = re.sub(r"\s+", " ", sql)
    text = re.sub(r"\s*;[\s;]*", ";", text)
    return text.strip().strip(";").strip()


def _first_difference(file_sql: str, recorded_sql: str) -> str:
    ours, theirs = canonical(file_sql), canonical(recorded_sql)
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None)
    at = min(len(ours), len(theirs)) if at is None else at
    start = max(0, at - 10)
    return f"file has {ours[start : at + _CONTEXT]!r}, ledger has {theirs[start : at + _CONTEXT]!r}"


def _drift(f: MigrationFile, row: LedgerRow) -> str | None:
    """Where the recorded statements differ from the file (None: equal, or none recorded)."""
    if row.statements is None:
        return None
    recorded = ";\n".join(row.statements)
    if canonical(recorded) == canonical(f.text):
        return None
    return _first_difference(f.text, recorded)


def check_recorded(f: MigrationFile, ledger: Ledger, env: str) -> None:
    """One migration is in the ledger, with the file's statements where the ledger has them."""
    row = ledger.row(f.version)
    if row is None:
        raise LedgerMismatch(
            f"migration {f.file_name} is not applied to {env}: version {f.version} is not in"
            f" {LEDGER_TABLE}" + ("" if ledger.exists else " (the table does not exist)")
        )
    drift = _drift(f, row)
    if drift is not None:
        raise LedgerMismatch(
            f"migration {f.file_name} on {env} differs from the repository's file: {drift}"
        )


def check_ledger(files: Sequence[MigrationFile], ledger: Ledger, env: str) -> None:
    """Every repo migration applied as written, and nothing applied the repo does not know."""
    known = {f.version for f in files}
    missing = [f.file_name for f in files if ledger.row(f.version) is None]
    unknown = [r.version for r in ledger.rows if r.version not in known]
    drifted = [
        f"{f.file_name} ({d})"
        for f in files
        if (row := ledger.row(f.version)) is not None and (d := _drift(f, row)) is not None
    ]
    problems = []
    if missing:
        absent = "" if ledger.exists else f"; {LEDGER_TABLE} does not exist"
        problems.append(f"not applied: {', '.join(missing)}{absent}")
    if unknown:
        problems.append(f"applied but not in the repository: {', '.join(unknown)}")
    if drifted:
        problems.append(f"applied differently from the file: {'; '.join(drifted)}")
    if problems:
        raise LedgerMismatch(
            f"the migration ledger of {env} does not match the repository's"
            f" {MIGRATIONS_DIR}: " + " | ".join(problems)
        )
