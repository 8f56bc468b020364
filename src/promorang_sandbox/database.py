"""One throw-away database per sandbox: create, migrate, seed, drop."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import SandboxError
from .sqlsplit import split_and_trim

DB_PREFIX = "promorang_sandbox_"
API_ROLES = ("anon", "authenticated", "service_role")
PUBLIC_BUCKET = "content-media"
PRIVATE_BUCKET = "content-media-private"
CREATOR_EMAIL = "creator@sandbox.promorang.test"
CREATOR_USERNAME = "sandbox_creator"
# Supabase's own objects (auth, storage, the ledger): applied first, never recorded.
PLATFORM_VERSION = "00000000000000"
# A second user, for the ownership checks: it must not change the creator's content.
OTHER_EMAIL = "other@sandbox.promorang.test"
# The seeded users' passwords, for the GoTrue subset's password grant (/auth/v1/token).
CREATOR_PASSWORD = "sandbox-creator-password"
OTHER_PASSWORD = "sandbox-other-password"
OTHER_USERNAME = "sandbox_other"

# Several sandboxes may start at once on one server: a role another one just created is fine.
_CREATE_ROLE = """
do $$
begin
  create role {role} nologin {extra};
exception
  when duplicate_object or unique_violation then null;
end
$$
"""


@dataclass(frozen=True)
class SeedInfo:
    creator_id: str
    creator_email: str
    other_id: str = ""
    other_email: str = OTHER_EMAIL


def with_dbname(dsn: str, dbname: str) -> str:
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + quote(dbname)))
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def _dbname(dsn: str) -> str:
    return str(conninfo_to_dict(dsn).get("dbname") or "")


def ensure_roles(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the Supabase API roles if missing; the login role must be able to become them."""
    for role in API_ROLES:
        extra = "bypassrls" if role == "service_role" else ""
        conn.execute(_CREATE_ROLE.format(role=role, extra=extra).encode())
    row = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
    if row is not None and not row[0]:
        for role in API_ROLES:
            conn.execute(sql.SQL("grant {} to current_user").format(sql.Identifier(role)))


def create_database(admin_dsn: str) -> str:
    """Create an empty database ``promorang_sandbox_<hex>``; return its DSN."""
    name = DB_PREFIX + secrets.token_hex(6)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        ensure_roles(conn)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return with_dbname(admin_dsn, name)


def drop_database(admin_dsn: str, dsn: str) -> None:
    """Terminate the database's backends and drop it (idempotent)."""
    name = _dbname(dsn)
    if not name.startswith(DB_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a sandbox database")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def migration_files() -> list[tuple[str, str, str]]:
    """(version, name, sql) of every shipped migration, in filename order."""
    folder = resources.files("promorang_sandbox") / "migrations"
    out: list[tuple[str, str, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        stem = entry.name[: -len(".sql")]
        version, _, name = stem.partition("_")
        out.append((version, name, entry.read_text(encoding="utf-8")))
    return out


def app_migration_files() -> list[tuple[str, str, str]]:
    """The application's migrations: what its repository holds under ``supabase/migrations``."""
    return [m for m in migration_files() if m[0] != PLATFORM_VERSION]


def platform_sql() -> str:
    """The Supabase platform objects (roles aside): what a new Supabase project starts with."""
    return next(text for version, _, text in migration_files() if version == PLATFORM_VERSION)


def _ledger_versions(conn: psycopg.Connection[tuple[object, ...]]) -> set[str] | None:
    """Recorded versions, or None when the platform (which creates the ledger) is not there."""
    row = conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone()
    if row is None or row[0] is None:
        return None
    return {
        str(r[0]) for r in conn.execute("select version from supabase_migrations.schema_migrations")
    }


def apply_migrations(dsn: str) -> list[str]:
    """Apply the platform objects, then the migrations not yet recorded, each in its own
    transaction; return the versions applied. The ledger records the application's migrations
    as the Supabase CLI does (version, name, statements); the platform is not one of them."""
    applied: list[str] = []
    with psycopg.connect(dsn) as conn:
        done = _ledger_versions(conn)
        conn.commit()
        if done is None:
            with conn.transaction():
                conn.execute(platform_sql().encode())
            applied.append(PLATFORM_VERSION)
            done = set()
        for version, name, text in app_migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(text.encode())
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values (%s, %s, %s)",
                    (version, name, split_and_trim(text)),
                )
            applied.append(version)
    return applied


def _user(
    conn: psycopg.Connection[tuple[object, ...]],
    email: str,
    name: str,
    shown: str,
    password: str | None = None,
) -> str:
    row = conn.execute(
        "insert into public.users (email, username, display_name, user_type)"
        " values (%s, %s, %s, 'creator')"
        " on conflict (email) do update set email = excluded.email returning id::text",
        (email, name, shown),
    ).fetchone()
    assert row is not None
    user_id = str(row[0])
    conn.execute(
        "insert into auth.users (id, email) values (%s, %s) on conflict (id) do nothing",
        (user_id, email),
    )
    if password is not None:
        conn.execute(
            "update auth.users set encrypted_password = crypt(%s, gen_salt('bf', 4)) where id = %s",
            (password, user_id),
        )
    return user_id


def seed(dsn: str) -> SeedInfo:
    """Insert the test creator, a second user and the two content buckets (public, private)."""
    with psycopg.connect(dsn) as conn:
        creator_id = _user(
            conn, CREATOR_EMAIL, CREATOR_USERNAME, "Sandbox Creator", CREATOR_PASSWORD
        )
        other_id = _user(conn, OTHER_EMAIL, OTHER_USERNAME, "Sandbox Other User", OTHER_PASSWORD)
        for bucket, public in ((PUBLIC_BUCKET, True), (PRIVATE_BUCKET, False)):
            conn.execute(
                "insert into storage.buckets (id, name, public) values (%s, %s, %s)"
                " on conflict (id) do nothing",
                (bucket, bucket, public),
            )
    return SeedInfo(creator_id=creator_id, creator_email=CREATOR_EMAIL, other_id=other_id)


# -- a checkout's own migrations (``up --migrations-from PATH``) -----------------------------------

CHECKOUT_MIGRATIONS_DIR = "supabase/migrations"
# The Supabase CLI's file names: only these get a ledger row (version, name).
_CLI_FILE_NAME = re.compile(r"^([0-9]+)_(.*)\.sql$")


class MigrationsPathError(SandboxError):
    """``--migrations-from`` names no folder of ``*.sql`` files (nothing is started)."""


@dataclass(frozen=True)
class CheckoutMigrations:
    """What ``apply_checkout_migrations`` did: every file tried, and why each failure failed."""

    folder: Path
    tried: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (file name, first line of the error)

    @property
    def summary(self) -> str:
        applied = len(self.tried) - len(self.failed)
        failed = ", ".join(name for name, _ in self.failed)
        tail = f"{len(self.failed)} failed: {failed}" if self.failed else "0 failed"
        return f"applied {applied} of {len(self.tried)} migrations from {self.folder}; {tail}"


def checkout_migration_files(path: Path) -> tuple[Path, list[Path]]:
    """The folder of ``*.sql`` files ``path`` names (a checkout root means its
    ``supabase/migrations``) and its files in file-name order; MigrationsPathError otherwise.
    A root's own ``*.sql`` are no migrations when it has that folder (build B's root holds a
    legacy ``database-schema.sql``)."""
    if not path.exists():
        raise MigrationsPathError(f"--migrations-from {path}: no such file or directory")
    folder = path
    if (path / CHECKOUT_MIGRATIONS_DIR).is_dir():
        folder = path / CHECKOUT_MIGRATIONS_DIR
    files = sorted((p for p in folder.glob("*.sql") if p.is_file()), key=lambda p: p.name)
    if not files:
        raise MigrationsPathError(
            f"--migrations-from {path}: no *.sql file in it nor in its {CHECKOUT_MIGRATIONS_DIR}/"
        )
    return folder, files


def _first_line(exc: BaseException) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def apply_checkout_migrations(
    dsn: str, path: Path, report: Callable[[str], None] | None = None
) -> CheckoutMigrations:
    """Apply a checkout's migrations on top of the sandbox's schema, each file in its own
    transaction, in file-name order, as ``psql -1 -f FILE`` would; a file that fails is rolled
    back, reported (``migration <file>: <error>``) and skipped. Each applied file named as the
    Supabase CLI names them is recorded in the ledger (its version's row replaced, the
    sandbox's own included), so the gate's ``growth_hub.migrations_applied`` sees it applied."""
    folder, files = checkout_migration_files(path)
    failed: list[tuple[str, str]] = []
    with psycopg.connect(dsn) as conn:
        for file in files:
            text = file.read_text(encoding="utf-8", errors="replace")
            try:
                conn.execute(text.encode())
                match = _CLI_FILE_NAME.match(file.name)
                if match is not None:
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations"
                        " (version, name, statements) values (%s, %s, %s)"
                        " on conflict (version) do update"
                        " set name = excluded.name, statements = excluded.statements",
                        (match[1], match[2], split_and_trim(text)),
                    )
                conn.commit()
            except psycopg.Error as exc:
                conn.rollback()
                failed.append((file.name, _first_line(exc)))
                if report is not None:
                    report(f"migration {file.name}: {_first_line(exc)}")
    return CheckoutMigrations(folder, tuple(f.name for f in files), tuple(failed))
