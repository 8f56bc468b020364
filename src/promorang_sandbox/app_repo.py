"""The reference application repository: the checkout of Promorang the sandbox runs.

A release is a repository as much as a running API: the gate reads its migrations, API docs and
release notes. The sandbox writes one in Promorang's layout (CONTRACT.md §4) when it starts:
``supabase/migrations`` byte for byte what it installed, ``docs/API_DOCS.md`` documenting every
route its API serves, ``docs/releases/<date>.md`` with a rollback plan (yesterday, today and
tomorrow: a run may cross midnight), ``backend/`` declaring the
routes as Express does, and ``frontend/``. It is a git checkout when git is installed.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .database import app_migration_files

__all__ = ["head_commit", "served_routes", "write_reference_repo"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DESCRIPTIONS = {
    ("GET", "/api/health"): "Liveness of the API.",
    ("POST", "/api/content/upload-image"): "Store a base64 image in the content bucket.",
    ("GET", "/api/content"): "List content items (`limit`, `offset`).",
    ("POST", "/api/content"): "Create a content item and mint the creator's initial position.",
    ("GET", "/api/content/{id}"): "One content item.",
    ("PUT", "/api/content/{id}"): "Update a content item.",
    ("DELETE", "/api/content/{id}"): "Delete a content item.",
}
GIT_TIMEOUT_S = 20
# What the reference API reads and writes, as the platform's backend asks supabase-js.
CONTENT_QUERIES = """// The tables the content routes use (supabase-js, service role).
const list = () => supabase.from('content_items').select('*');
const creator = (id) => supabase.from('users').select('username').eq('id', id);
const mint = (row) => supabase.from('content_share_positions').insert(row);
const upload = (path, bytes) => supabase.storage.from('content-media').upload(path, bytes);
module.exports = { list, creator, mint, upload };
"""
README = """# Promorang (reference)

Written by promorang-sandbox.

## Setup

1. Apply `supabase/migrations` (`supabase db push`).
2. Create the public storage bucket `content-media` (Dashboard → Storage → New bucket, Public).
"""


def _express_path(path: str) -> str:
    """``/api/content/{ident}`` -> ``/api/content/:ident``."""
    return "/".join(
        f":{p[1:-1].split(':')[0]}" if p.startswith("{") else p for p in path.split("/")
    )


def _doc_key(method: str, path: str) -> tuple[str, str]:
    parts = ["{id}" if p.startswith("{") else p for p in path.split("/")]
    return method, "/".join(parts)


def served_routes(app: Any) -> list[tuple[str, str]]:
    """(METHOD, path) of every route of an ASGI app, looking through wrapping middleware;
    the admin endpoint and the catch-all are not part of the platform's API."""
    while not hasattr(app, "routes") and hasattr(app, "app"):
        app = app.app
    found: list[tuple[str, str]] = []
    for route in getattr(app, "routes", []):
        path = str(getattr(route, "path", ""))
        if path.startswith("/__sandbox") or ":path}" in path:
            continue
        sub = getattr(route, "routes", None)
        if sub is not None and not getattr(route, "methods", None):
            found += [(m, path + p) for m, p in served_routes(route.app)]
            continue
        found += [(m, path) for m in METHODS if m in (getattr(route, "methods", None) or ())]
    return list(dict.fromkeys(found))


def _api_docs(api_url: str, routes: Sequence[tuple[str, str]]) -> str:
    lines = [
        "# Promorang API",
        "",
        "## Base URL",
        "",
        "```",
        f"{api_url}",
        "```",
        "",
        "## Endpoints",
        "",
    ]
    for method, path in routes:
        text = DESCRIPTIONS.get(_doc_key(method, path), "Served by the reference API.")
        lines += [f"### `{method} {path}`", "", text, ""]
    return "\n".join(lines)


def _backend_routes(routes: Sequence[tuple[str, str]]) -> str:
    lines = [
        "// The reference API's route table, declared as the platform's Express app declares it.",
        "const express = require('express');",
        "const app = express();",
        "const handled = (req, res) => res.status(501).json({ error: 'served by the sandbox' });",
        "",
    ]
    lines += [f"app.{m.lower()}('{_express_path(p)}', handled);" for m, p in routes]
    return "\n".join([*lines, "", "module.exports = app;", ""])


RELEASE_NOTES = """\
# Release {date}

Reference release of the Promorang sandbox: the Create flow (upload, content CRUD, initial
share mint) and the migrations under `supabase/migrations`.

## Migrations

{migrations}

## Rollback plan

- **Backend**: `vercel rollback <deployment_url>`, or redeploy the previous commit.
- **Database (Supabase)**: restore from the `supabase db remote commit` point taken before the
  push; drop the objects the migrations above created only if no data depends on them.
- **Frontend**: `vercel rollback`, or redeploy the previous static build.
"""


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _frontend(root: Path, api_url: str) -> None:
    _write(root / "frontend", ".env.example", f"VITE_API_URL={api_url}\n")
    _write(root / "frontend", "README.md", "# Frontend\n\nServed by the sandbox's frontend app.\n")
    assets = resources.files("promorang_sandbox") / "frontend_assets"
    if assets.is_dir():
        with resources.as_file(assets) as folder:
            shutil.copytree(folder, root / "frontend" / "public", dirs_exist_ok=True)


def _git_commit(root: Path) -> None:
    """Make the repository a checkout with one commit; without git it stays a plain folder."""
    git = shutil.which("git")
    if git is None:
        return
    identity = ["-c", "user.name=promorang-sandbox", "-c", "user.email=sandbox@promorang.test"]
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        [*identity, "commit", "-q", "--no-gpg-sign", "-m", "Reference Promorang release"],
    ):
        subprocess.run(
            [git, "-C", str(root), *args], capture_output=True, timeout=GIT_TIMEOUT_S, check=True
        )


def head_commit(root: Path) -> str | None:
    """The repository's HEAD commit (the build the sandbox states), or None without git."""
    git = shutil.which("git")
    if git is None:
        return None
    proc = subprocess.run(
        [git, "-C", str(root), "rev-parse", "-q", "--verify", "HEAD"],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    return proc.stdout.strip() or None


def write_reference_repo(
    root: Path, api_url: str, routes: Iterable[tuple[str, str]], today: dt.date | None = None
) -> Path:
    """Write the reference repository into ``root`` (created if needed); return ``root``."""
    day = today or dt.date.today()
    routes = list(routes)
    migrations = app_migration_files()
    for version, name, text in migrations:
        _write(root, f"supabase/migrations/{version}_{name}.sql", text)
    listed = "\n".join(f"- `{v}_{n}.sql`" for v, n, _ in migrations)
    _write(root, "docs/API_DOCS.md", _api_docs(api_url, routes))
    # Yesterday's and tomorrow's notes too: a gate run after midnight (release date: today) in a
    # test run whose sandbox started before it still finds the release's notes.
    for date in (day + dt.timedelta(days=shift) for shift in (-1, 0, 1)):
        iso = date.isoformat()
        _write(root, f"docs/releases/{iso}.md", RELEASE_NOTES.format(date=iso, migrations=listed))
    _write(root, "backend/api/index.js", _backend_routes(routes))
    _write(root, "backend/api/content.js", CONTENT_QUERIES)
    _write(root, "README.md", README)
    _frontend(root, api_url)
    _git_commit(root)
    return root
