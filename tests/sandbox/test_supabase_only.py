"""`promorang-sandbox up --supabase-only --print-env backend`: the database and the gateway
alone, and the variables an engineer's own backend (and `pytest --env local`) reads; with
`--migrations-from`, the database built on from a checkout's own `supabase/migrations`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from promorang_gate.release.migrations import check_recorded, read_ledger, read_migrations
from promorang_sandbox import database
from promorang_sandbox.cli import EXIT_MIGRATIONS_PATH, main
from promorang_sandbox.database import CREATOR_EMAIL, CREATOR_PASSWORD
from promorang_sandbox.jwtkeys import SERVICE_ROLE_KEY
from promorang_sandbox.postgres import PostgresServer

# Two good migrations around a bad one: the second file creates a table, then fails.
MIGRATIONS = {
    "202601010001_gate_notes.sql": "create table public.gate_notes (id int primary key);\n",
    "202601010002_broken.sql": "create table public.gate_broken (id int);\nselec 1;\n",
    "202601010003_gate_tags.sql": (
        "create table public.gate_tags (note int references public.gate_notes (id));\n"
        "grant select on public.gate_tags to service_role;\n"
    ),
}


def _checkout(root: Path) -> Path:
    folder = root / "supabase" / "migrations"
    folder.mkdir(parents=True)
    for name, text in MIGRATIONS.items():
        (folder / name).write_text(text)
    (folder / "README.md").write_text("not a migration")
    # A legacy schema at the root, as build B has: not one of the checkout's migrations.
    (root / "database-schema.sql").write_text("create table public.users (id int);\n")
    return folder


def test_checkout_migrations_apply_each_file_alone_and_are_recorded(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    folder = _checkout(tmp_path)
    reported: list[str] = []
    dsn = database.create_database(pg_server.admin_dsn)
    try:
        database.apply_migrations(dsn)
        database.seed(dsn)
        done = database.apply_checkout_migrations(dsn, tmp_path, reported.append)  # the root
        assert done.folder == folder
        assert done.summary == (
            f"applied 2 of 3 migrations from {folder}; 1 failed: 202601010002_broken.sql"
        )
        assert reported == ['migration 202601010002_broken.sql: syntax error at or near "selec"']
        with psycopg.connect(dsn) as conn:
            tables = conn.execute(
                "select to_regclass('public.gate_notes') is not null,"
                " to_regclass('public.gate_broken') is not null,"
                " to_regclass('public.gate_tags') is not null"
            ).fetchone()
            assert tables == (True, False, True)  # the failed file rolled back whole
            ledger = read_ledger(conn)
        # The gate's own reading of the ledger: the applied files recorded as written.
        files = {f.file_name: f for f in read_migrations(tmp_path)}
        check_recorded(files["202601010001_gate_notes.sql"], ledger, "local")
        check_recorded(files["202601010003_gate_tags.sql"], ledger, "local")
        assert ledger.row("202601010002") is None
        assert ledger.row("202510270001") is not None  # the sandbox's own rows stay
    finally:
        database.drop_database(pg_server.admin_dsn, dsn)


@pytest.mark.parametrize("case", ["missing", "empty", "file"])
def test_migrations_from_a_path_without_sql_is_a_one_line_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "checkout"
    if case == "empty":
        (path / "supabase" / "migrations").mkdir(parents=True)
    elif case == "file":
        path.write_text("create table x (id int);")
    assert main(["up", "--supabase-only", "--migrations-from", str(path)]) == EXIT_MIGRATIONS_PATH
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"promorang-sandbox: error: --migrations-from {path}: ")


@pytest.mark.slow
def test_supabase_only_serves_the_gateway_and_prints_the_backends_variables(
    tmp_path: Path,
) -> None:
    folder = _checkout(tmp_path / "checkout")
    command = [sys.executable, "-m", "promorang_sandbox", "up", "--supabase-only"]
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, "--print-env", "backend", "--migrations-from", str(folder)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while "GATE_LOCAL_OTHER_USER_PASSWORD" not in env and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            key, _, value = line.strip().partition("=")
            env[key] = value
        assert env["SUPABASE_SERVICE_KEY"] == env["SUPABASE_SERVICE_ROLE_KEY"] == SERVICE_ROLE_KEY
        assert env["GATE_LOCAL_SUPABASE_URL"] == env["SUPABASE_URL"]
        assert env["JWT_SECRET"]
        url = env["SUPABASE_URL"]
        signed = httpx.post(
            f"{url}/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": CREATOR_EMAIL, "password": CREATOR_PASSWORD},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        key = {"apikey": SERVICE_ROLE_KEY, "Authorization": f"Bearer {SERVICE_ROLE_KEY}"}
        buckets = httpx.get(f"{url}/storage/v1/bucket", headers=key, timeout=10)
        assert "content-media" in {b["id"] for b in buckets.json()}
        # The checkout's migrations were applied before the gateway served: their tables too.
        tags = httpx.get(f"{url}/rest/v1/gate_tags", headers=key, timeout=10)
        assert tags.status_code == 200, tags.text
        assert tags.json() == []
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    lines = log.read_text().splitlines()
    assert "[promorang-sandbox] migration 202601010002_broken.sql: syntax error at or near" in (
        "\n".join(lines)
    )
    summary = f"applied 2 of 3 migrations from {folder}; 1 failed: 202601010002_broken.sql"
    assert f"[promorang-sandbox] {summary}" in lines
