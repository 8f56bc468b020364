"""The sandbox ships the repository of the release it runs: what the gate reads as evidence."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from promorang_sandbox import SandboxHandle
from promorang_sandbox.app_repo import served_routes, write_reference_repo
from promorang_sandbox.database import app_migration_files
from promorang_sandbox.sqlsplit import split_and_trim


def test_migrations_are_byte_for_byte_what_the_sandbox_installed(
    sandbox: SandboxHandle,
) -> None:
    folder = Path(sandbox.state.app_repo) / "supabase" / "migrations"
    files = sorted(p.name for p in folder.iterdir())
    shipped = app_migration_files()
    assert files == [f"{v}_{n}.sql" for v, n, _ in shipped]
    for version, name, text in shipped:
        assert (folder / f"{version}_{name}.sql").read_text(encoding="utf-8") == text
    with psycopg.connect(sandbox.state.database_url) as conn:
        ledger = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
            " order by version"
        ).fetchall()
    assert ledger == [(v, n, split_and_trim(t)) for v, n, t in shipped]


def test_api_docs_and_backend_name_every_route_the_api_serves(sandbox: SandboxHandle) -> None:
    repo = Path(sandbox.state.app_repo)
    docs = (repo / "docs" / "API_DOCS.md").read_text(encoding="utf-8")
    backend = (repo / "backend" / "api" / "index.js").read_text(encoding="utf-8")
    for method, path in [("GET", "/api/health"), ("DELETE", "/api/content/{ident}")]:
        assert f"`{method} {path}`" in docs
    assert "app.delete('/api/content/:ident', handled);" in backend
    assert "__sandbox" not in docs + backend


def test_release_notes_of_today_hold_a_rollback_plan(sandbox: SandboxHandle) -> None:
    notes = Path(sandbox.state.app_repo) / "docs" / "releases" / f"{dt.date.today()}.md"
    text = notes.read_text(encoding="utf-8")
    section = text.split("## Rollback plan", 1)[1]
    for part in ("**Backend**", "**Database (Supabase)**", "**Frontend**"):
        assert part in section


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_repository_is_a_git_checkout_with_everything_committed(
    sandbox: SandboxHandle,
) -> None:
    repo = sandbox.state.app_repo
    head = subprocess.run(
        ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"[0-9a-f]{40}\n", head.stdout)
    status = subprocess.run(
        ["git", "-C", repo, "status", "--porcelain"], capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_routes_are_read_through_middleware_and_mounts(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    async def ok(request: object) -> Response:
        return Response()

    growth = [Route("/channels", ok, methods=["GET"]), Route("/staking", ok, methods=["POST"])]
    app = Starlette(
        routes=[
            Route("/api/health", ok, methods=["GET"]),
            Mount("/api/growth", routes=growth),
            Route("/__sandbox/faults", ok, methods=["GET"]),
            Route("/{path:path}", ok, methods=["GET"]),
        ]
    )

    class Wrapper:
        def __init__(self, inner: object) -> None:
            self.app = inner

    routes = served_routes(Wrapper(app))
    assert routes == [
        ("GET", "/api/health"),
        ("GET", "/api/growth/channels"),
        ("POST", "/api/growth/staking"),
    ]
    write_reference_repo(tmp_path, "http://api.test", routes, dt.date(2025, 10, 29))
    backend = (tmp_path / "backend" / "api" / "index.js").read_text(encoding="utf-8")
    assert "app.get('/api/growth/channels', handled);" in backend
    # The release's notes, and the days around it: a test run that crosses midnight finds them.
    notes = sorted(p.name for p in (tmp_path / "docs" / "releases").iterdir())
    assert notes == ["2025-10-28.md", "2025-10-29.md", "2025-10-30.md"]
