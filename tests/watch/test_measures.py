"""Readings on the sandbox: connections through the database or Supabase's metrics endpoint
(which the sandbox's gateway serves), storage against the declared quota."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.watch.measures import ConnectionsReader, Database, StorageReader, WebhookReader
from promorang_gate.watch.target import resolve_watched


def _target(state_file: Path, repo_root: Path) -> Any:
    watched = resolve_watched("sandbox", repo_root, Redactor(), sandbox_state=str(state_file))
    return watched.target


def test_connections_from_the_database_name_their_scope(
    sandbox: Any, sandbox_state_file: Path, repo_root: Path
) -> None:
    db = Database(_target(sandbox_state_file, repo_root), Redactor())
    reading = ConnectionsReader(db, Redactor()).read()
    db.close()
    assert reading.value is not None
    assert 0 < reading.value < 1
    assert reading.figures["via"] == "pg_stat_activity"
    assert reading.figures["cluster_limit"] > 0


def test_connections_from_the_metrics_endpoint_without_a_database_url(
    sandbox: Any, sandbox_state_file: Path, repo_root: Path
) -> None:
    target = dataclasses.replace(_target(sandbox_state_file, repo_root), database_url=None)
    reader = ConnectionsReader(Database(target, Redactor()), Redactor())
    reading = reader.read()
    assert reading.value is not None, reading.missing
    assert reading.figures["via"] == "metrics endpoint"
    assert reading.figures["cluster_used"] >= 1
    wrong = dataclasses.replace(target, service_role_key="not-the-service-role-key")
    refused = ConnectionsReader(Database(wrong, Redactor()), Redactor()).read()
    reader.close()
    assert refused.value is None
    assert refused.missing == "metrics endpoint answered 401"


def test_storage_without_a_quota_is_no_data(
    sandbox: Any, sandbox_state_file: Path, repo_root: Path
) -> None:
    db = Database(_target(sandbox_state_file, repo_root), Redactor())
    missing = StorageReader(db, 0, "default").read()
    measured = StorageReader(db, 1 << 30, "profile").read()
    db.close()
    assert missing.value is None
    assert "GATE_SANDBOX_STORAGE_QUOTA_BYTES" in (missing.missing or "")
    assert measured.value is not None
    assert measured.figures["quota_bytes"] == 1 << 30
    assert measured.figures["objects"] >= 0


def test_webhook_failures_from_the_deliveries_table_the_profile_names(
    sandbox: Any, sandbox_state_file: Path, repo_root: Path
) -> None:
    import psycopg

    table = "public.watch_test_deliveries"
    with psycopg.connect(sandbox.state.database_url, autocommit=True) as conn:
        conn.execute(f"create table {table} (status text, created_at timestamptz default now())")
        conn.execute(f"insert into {table} (status) values ('succeeded'), ('failed')")
    db = Database(_target(sandbox_state_file, repo_root), Redactor())
    try:
        reading = WebhookReader(db, table, 300).read()
        unnamed = WebhookReader(db, "", 300).read()
        bad = WebhookReader(db, "x; drop table y", 300).read()
    finally:
        db.close()
        with psycopg.connect(sandbox.state.database_url, autocommit=True) as conn:
            conn.execute(f"drop table {table}")
    assert reading.value == 1
    assert reading.figures == {"failed": 1, "deliveries": 2}
    assert "GATE_SANDBOX_WEBHOOK_DELIVERIES_TABLE" in (unnamed.missing or "")
    assert "is not a table name" in (bad.missing or "")
