"""Finding or starting PostgreSQL, and the life of one sandbox database."""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import jwt
import psycopg
import pytest

from promorang_sandbox import database, jwtkeys, postgres
from promorang_sandbox.errors import PostgresUnavailable
from promorang_sandbox.postgres import PostgresServer


def test_private_cluster_starts_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.PRIVATE_ENV, "1")
    monkeypatch.delenv(postgres.DSN_ENV, raising=False)
    logs: list[str] = []
    server = postgres.acquire_server(logs.append)
    try:
        assert server.private
        assert ":5432/" not in server.admin_dsn
        with psycopg.connect(server.admin_dsn) as conn:
            row = conn.execute("select current_setting('fsync')").fetchone()
        assert row == ("off",)
        pid, tempdir = server.pid, server.tempdir
        assert pid is not None
        assert tempdir is not None
        assert Path(tempdir).is_dir()
    finally:
        server.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert not Path(tempdir).exists()
    assert any("private cluster" in line for line in logs)
    server.stop()  # idempotent


def test_external_dsn_that_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.DSN_ENV, "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(PostgresUnavailable, match=postgres.DSN_ENV):
        postgres.acquire_server()


def test_no_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    with pytest.raises(PostgresUnavailable, match="PostgreSQL not found: install it"):
        postgres.find_bindir()


def test_external_server_stop_is_a_no_op() -> None:
    with PostgresServer(admin_dsn="postgresql://x@127.0.0.1:1/x") as server:
        assert not server.private


def test_database_is_migrated_seeded_and_dropped(pg_server: PostgresServer) -> None:
    dsn = database.create_database(pg_server.admin_dsn)
    name = dsn.rsplit("/", 1)[1]
    assert name.startswith(database.DB_PREFIX)
    try:
        applied = database.apply_migrations(dsn)
        assert applied == ["00000000000000", "202510270001", "202510270002", "202510290101"]
        assert database.apply_migrations(dsn) == []
        seed = database.seed(dsn)
        with psycopg.connect(dsn) as conn:
            versions = conn.execute(
                "select version, name, statements"
                " from supabase_migrations.schema_migrations order by version"
            ).fetchall()
            # The ledger holds the application's migrations only, statement by statement.
            assert [v[0] for v in versions] == ["202510270001", "202510270002", "202510290101"]
            version, name, statements = versions[-1]
            assert (version, name) == ("202510290101", "content_share_positions")
            assert len(statements) == 8
            assert statements[-1].startswith("grant select, insert, update, delete")
            assert not any(s.endswith(";") or s != s.strip() for s in statements)
            buckets = conn.execute("select id, public from storage.buckets order by id").fetchall()
            assert buckets == [("content-media", True), ("content-media-private", False)]
            user = conn.execute("select email from public.users where id = %s", (seed.creator_id,))
            assert user.fetchone() == (seed.creator_email,)
            rls = conn.execute(
                "select relname, relrowsecurity from pg_class where oid in"
                " ('storage.objects'::regclass, 'public.content_share_positions'::regclass,"
                " 'public.content_items'::regclass) order by relname"
            ).fetchall()
            assert rls == [
                ("content_items", False),
                ("content_share_positions", True),
                ("objects", True),
            ]
    finally:
        database.drop_database(pg_server.admin_dsn, dsn)
    with psycopg.connect(pg_server.admin_dsn) as conn:
        gone = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    assert gone is None


def test_roles_are_created_race_safely(pg_server: PostgresServer) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
                database.ensure_roles(conn)
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_server.admin_dsn) as conn:
        roles = conn.execute(
            "select rolname, rolbypassrls, rolcanlogin from pg_roles"
            " where rolname in ('anon', 'authenticated', 'service_role') order by rolname"
        ).fetchall()
    assert roles == [
        ("anon", False, False),
        ("authenticated", False, False),
        ("service_role", True, False),
    ]


def test_refuses_to_drop_a_foreign_database(pg_server: PostgresServer) -> None:
    with pytest.raises(ValueError, match="not a sandbox database"):
        database.drop_database(pg_server.admin_dsn, pg_server.admin_dsn)


def test_demo_keys_and_tokens() -> None:
    anon = jwt.decode(jwtkeys.ANON_KEY, jwtkeys.JWT_SECRET, algorithms=["HS256"])
    assert anon == {"iss": "supabase-demo", "role": "anon", "exp": 1983812996}
    assert jwtkeys.verify(jwtkeys.SERVICE_ROLE_KEY)["role"] == "service_role"
    claims = jwtkeys.verify(jwtkeys.user_token("u-1", "u@example.test", ttl_s=60))
    assert (claims["sub"], claims["role"], claims["aud"]) == (
        "u-1",
        "authenticated",
        "authenticated",
    )
    with pytest.raises(jwtkeys.InvalidToken) as forged:
        jwtkeys.verify(jwtkeys.ANON_KEY[:-2] + "xx")
    assert not forged.value.claims_invalid
    with pytest.raises(jwtkeys.InvalidToken, match="JWT expired") as expired:
        jwtkeys.verify(jwtkeys.user_token("u-1", "u@example.test", ttl_s=-120))
    assert expired.value.claims_invalid
    # Within the 30 s leeway a just-expired token is still accepted.
    assert jwtkeys.verify(jwtkeys.user_token("u-1", "u@example.test", ttl_s=-5))


class _Later(datetime.datetime):
    """The clock PyJWT reads, ``AHEAD_S`` later."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> _Later:
        later = datetime.datetime.now(tz) + datetime.timedelta(seconds=AHEAD_S)
        return cls.fromtimestamp(later.timestamp(), tz)


AHEAD_S = 120


def test_a_token_verified_before_expires_as_if_never_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified tokens are remembered (each request would decode them again): only while the
    time claims hold; later, the token fails as a fresh one would."""
    token = jwtkeys.user_token("u-2", "u2@example.test", ttl_s=60)
    assert jwtkeys.verify(token)["sub"] == "u-2"
    later = time.time() + AHEAD_S
    monkeypatch.setattr(jwtkeys, "time", SimpleNamespace(time=lambda: later))
    monkeypatch.setattr("jwt.api_jwt.datetime", _Later)
    with pytest.raises(jwtkeys.InvalidToken, match="JWT expired") as expired:
        jwtkeys.verify(token)
    assert expired.value.claims_invalid
    # What is returned is the caller's own copy.
    monkeypatch.undo()
    jwtkeys.verify(token)["sub"] = "someone else"
    assert jwtkeys.verify(token)["sub"] == "u-2"
