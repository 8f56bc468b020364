"""The release's migrations as a chain, on fixture repositories shaped like the platform's
builds: versions used twice or reused, tables the code uses that no migration creates, and a
bucket nobody creates (docs/traps.md, section H)."""

from __future__ import annotations

from pathlib import Path

from promorang_gate.release.migration_chain import (
    bucket_creation,
    chain_objects,
    missing_objects,
    reused_versions,
    used_objects,
)
from promorang_gate.release.migrations import Ledger, LedgerRow, read_migrations

USERS = "create table if not exists public.users (id uuid primary key);\n"
ITEMS = "create table public.content_items (id uuid primary key, title text);\n"
POSITIONS = 'create table "public"."content_piece_positions" (id uuid);\n'
BACKEND = """
const a = await supabase.from('content_pieces').select('*');
const b = await supabase
  .from("content_share_positions").insert(row);
const c = supabase.from(`users`).select('id');
const d = supabase.storage.from('content-media').upload(path, bytes);
const e = supabase.storage
  .from('content-media').getPublicUrl(path);
const f = await supabase.rpc('mint_shares', { id });
"""


def _repo(tmp_path: Path, migrations: dict[str, str], files: dict[str, str]) -> Path:
    for name, sql in migrations.items():
        path = tmp_path / "supabase" / "migrations" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_version_used_twice_is_named_with_both_files(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "202607010006_referrals.sql": USERS,
            "202607010006_moments.sql": ITEMS,
            "202607010007_positions.sql": POSITIONS,
        },
        {},
    )
    problems = reused_versions(read_migrations(repo), None)
    assert problems == [
        "version 202607010006 is used by 2 files: 202607010006_moments.sql,"
        " 202607010006_referrals.sql"
    ]


def test_a_version_reused_for_another_file_than_the_ledger_recorded(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"202510270002_moments_v2.sql": ITEMS}, {})
    ledger = Ledger((LedgerRow("202510270002", "extended_schema", (ITEMS,)),))
    (problem,) = reused_versions(read_migrations(repo), ledger)
    assert "recorded for 'extended_schema'" in problem
    assert "202510270002_moments_v2.sql" in problem
    same = Ledger((LedgerRow("202510270002", "moments_v2"), LedgerRow("202510270003", None)))
    assert reused_versions(read_migrations(repo), same) == []


def test_tables_the_backend_uses_that_no_migration_creates(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {"202510270001_initial.sql": USERS + ITEMS, "202510290101_positions.sql": POSITIONS},
        {
            "backend/api/content.js": BACKEND,
            "backend/node_modules/x/index.js": "supabase.from('ignored_dependency')",
            "api/index.ts": "await db.from('content_items').select()",
        },
    )
    usage = used_objects(repo)
    assert set(usage.tables) == {"content_pieces", "content_share_positions", "users"} | {
        "content_items"
    }
    assert set(usage.functions) == {"mint_shares"}
    problems = missing_objects(usage, read_migrations(repo))
    assert len(problems) == 3, problems
    assert problems[0].startswith("table 'content_pieces' (used in backend/api/content.js)")
    assert problems[1].startswith("table 'content_share_positions'")
    assert problems[2].startswith("function 'mint_shares'")
    declared = missing_objects(
        usage, read_migrations(repo), ["content_pieces", " content_share_positions", "mint_shares"]
    )
    assert declared == []


def test_the_chain_follows_renames_drops_views_and_functions(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "1_a.sql": ITEMS + "-- create table public.commented_out (id int);\n",
            "2_b.sql": "alter table public.content_items rename to content_pieces;\n"
            "create or replace view public.feed as select 1;\n"
            "create table tmp_x (id int); drop table if exists tmp_x;\n"
            "create or replace function public.mint_shares(id uuid) returns void as $$ $$;\n",
        },
        {},
    )
    tables, functions = chain_objects(read_migrations(repo))
    assert tables == {"content_pieces", "feed"}
    assert functions == {"mint_shares"}


def test_the_bucket_is_created_by_a_migration_or_a_documented_step(tmp_path: Path) -> None:
    none = _repo(tmp_path / "none", {"1_a.sql": ITEMS}, {"README.md": "# App\nUse content-media."})
    assert bucket_creation(none, read_migrations(none), "content-media") is None
    migration = _repo(
        tmp_path / "migration",
        {
            "1_a.sql": ITEMS,
            "2_bucket.sql": "insert into storage.buckets (id, name, public)"
            " values ('content-media', 'content-media', true);",
        },
        {},
    )
    found = bucket_creation(migration, read_migrations(migration), "content-media")
    assert found == "migration 2_bucket.sql"
    documented = _repo(
        tmp_path / "documented",
        {"1_a.sql": ITEMS},
        {"docs/setup.md": "# Setup\n\nCreate the public bucket `content-media` in Storage.\n"},
    )
    found = bucket_creation(documented, read_migrations(documented), "content-media")
    assert found == "documented step docs/setup.md:3"
