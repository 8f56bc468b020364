"""Small application repositories the tests write: the release under test, in Promorang's layout.

``good_migrations()`` are the sandbox's own (so a repository built from them matches the shared
sandbox's ledger); the others reproduce the real platform's defects (CONTRACT.md §4.1, §4.2).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Mapping
from pathlib import Path

from promorang_sandbox.app_repo import CONTENT_QUERIES, README
from promorang_sandbox.database import app_migration_files

POSITIONS_FILE = "202510290101_content_share_positions.sql"

# CONTRACT.md §4.2 as written: "create policy if not exists" (no such clause in PostgreSQL) and
# the role claim read as a column (`request.jwt.claims ->> 'role'`).
POSITIONS_AS_WRITTEN = """\
-- content_share_positions: one row per holder and content item
create table if not exists public.content_share_positions (
  id uuid primary key default gen_random_uuid(),
  content_id uuid not null references public.content_items (id) on delete cascade,
  holder_id uuid not null references public.users (id) on delete cascade,
  shares_owned numeric(18,4) not null default 0,
  total_invested numeric(14,2) not null default 0,
  average_price numeric(14,4) generated always as (
    case when shares_owned = 0 then 0 else round(total_invested / shares_owned, 4) end
  ) stored,
  created_at timestamptz not null default timezone('utc', now()),
  updated_at timestamptz not null default timezone('utc', now())
);

create index if not exists idx_content_share_positions_content
  on public.content_share_positions (content_id);
create index if not exists idx_content_share_positions_holder
  on public.content_share_positions (holder_id);

alter table public.content_share_positions enable row level security;

create policy if not exists allow_owners_read_positions
  on public.content_share_positions
  for select
  using (auth.uid() = holder_id);

create policy if not exists service_role_full_access_positions
  on public.content_share_positions
  for all
  using (request.jwt.claims ->> 'role' = 'service_role')
  with check (request.jwt.claims ->> 'role' = 'service_role');
"""
POSITIONS_AS_WRITTEN_ERROR_LINE = 22  # the first "create policy if not exists"
# With only "if not exists" removed, the claim read as a column still fails.
POSITIONS_ONLY_CLAIM_WRONG = POSITIONS_AS_WRITTEN.replace(
    "create policy if not exists", "create policy"
)
POSITIONS_ONLY_CLAIM_WRONG_ERROR_LINE = 30  # the first `request.jwt.claims ->> 'role'`

# The second migration indexes a table the first never created (CONTRACT.md §4.1's
# growth_hub_indexes fails the same way on a fresh database).
DEPENDENT_CHAIN = {
    "202510280001_growth_hub_schema.sql": (
        "-- Growth Hub: staking channels\n"
        "create table if not exists public.staking_channels (\n"
        "  id uuid primary key default gen_random_uuid(),\n"
        "  name text not null\n"
        ");\n"
    ),
    "202510280003_growth_hub_indexes.sql": (
        "-- Growth Hub indexes\n"
        "create index if not exists idx_staking_channels_name on public.staking_channels (name);\n"
        "\n"
        "create index if not exists idx_shield_policies_active\n"
        "  on public.shield_policies (is_active);\n"
    ),
}
DEPENDENT_ERROR = ("202510280003_growth_hub_indexes.sql", 5, 'relation "public.shield_policies"')

CONTRACT_OPERATIONS = (
    "GET /api/health",
    "POST /api/content/upload-image",
    "GET /api/content",
    "POST /api/content",
    "GET /api/content/{id}",
    "PUT /api/content/{id}",
    "DELETE /api/content/{id}",
)
API_DOCS = "# Promorang API\n\n" + "".join(f"- `{op}`\n" for op in CONTRACT_OPERATIONS)

NOTES_WITH_ROLLBACK = """\
# Release {date}

Content share positions.

## Rollback

- Backend: `vercel rollback <deployment_url>`.
- Supabase: restore the `supabase db remote commit` point taken before the push.
- Frontend: `vercel rollback`.
"""
NOTES_WITHOUT_ROLLBACK = (
    "# Release {date}\n\nContent share positions.\n\n## Known issues\n\nNone.\n"
)


def good_migrations() -> dict[str, str]:
    """The sandbox's migrations: a chain that applies and matches the sandbox's ledger."""
    return {f"{v}_{n}.sql": text for v, n, text in app_migration_files()}


def write_repo(
    root: Path,
    migrations: Mapping[str, str] | None = None,
    *,
    api_docs: str | None = API_DOCS,
    notes: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    git: bool = False,
) -> Path:
    """An application checkout at ``root``: ``migrations`` (file name -> SQL, default the good
    chain), ``docs/API_DOCS.md``, ``docs/releases/<date>.md`` (date -> text; default today's
    notes with a rollback section) and any other ``files``."""
    today = dt.date.today().isoformat()
    content: dict[str, str | None] = {
        f"supabase/migrations/{name}": sql
        for name, sql in (good_migrations() if migrations is None else migrations).items()
    }
    content["docs/API_DOCS.md"] = api_docs
    # The backend's queries and the bucket's setup step, as the reference repository has them.
    content["backend/api/content.js"] = CONTENT_QUERIES
    content["README.md"] = README
    for date, text in (notes if notes is not None else {today: NOTES_WITH_ROLLBACK}).items():
        content[f"docs/releases/{date}.md"] = text.format(date=date)
    content.update(files or {})
    (root / "supabase" / "migrations").mkdir(parents=True, exist_ok=True)
    (root / "frontend").mkdir(exist_ok=True)
    for relative, text in content.items():
        if text is not None:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
    if git:
        commit(root)
    return root


def commit(root: Path) -> str:
    """Make ``root`` a git checkout with one commit; return the commit."""
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.test"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "release"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return head.stdout.strip()
