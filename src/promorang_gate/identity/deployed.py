"""Reading the deployed identity of one environment.

- The API's build: a commit its health (or ``/api/version``) body states, else Vercel's metadata
  of the deployment serving the API's host (``GATE_<ENV>_VERCEL_TOKEN``), else ``unknown``.
- The frontend: the sha256 of the entry script ``index.html`` loads, and the commit the bundle
  states (``__PROMORANG_BUILD_COMMIT__ = "<sha>"`` or ``"buildCommit":"<sha>"``), if any.
- The database: the last version in ``supabase_migrations.schema_migrations``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = [
    "COMMIT_KEYS",
    "DeployedIdentity",
    "describe_identity",
    "identity_of",
    "read_api_build",
    "read_bundle",
    "read_migration_version",
    "same_commit",
]

#: Keys of a health or version body that state the build's commit (first found wins).
COMMIT_KEYS = ("commit", "git_commit", "gitCommit", "commit_sha", "sha", "build", "version")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_BUNDLE_COMMIT = re.compile(
    r"""(?:__PROMORANG_BUILD_COMMIT__\s*=\s*|["']?buildCommit["']?\s*:\s*)["']([0-9a-f]{7,40})["']"""
)
_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']([^\"']+\.js)[\"'][^>]*>", re.I)
VERCEL_API = "https://api.vercel.com/v13/deployments/"
ITEM = "release.identity"


@dataclass(frozen=True)
class DeployedIdentity:
    api_commit: str | None
    api_source: str  # "health", "version", "vercel" or "unknown"
    frontend_bundle: str | None  # "<path> sha256:<hex>"
    frontend_commit: str | None
    migration_version: str | None

    def stated_commits(self) -> dict[str, str]:
        stated = {"api": self.api_commit, "frontend": self.frontend_commit}
        return {k: v for k, v in stated.items() if v}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        front = self.frontend_bundle or "unknown"
        if self.frontend_commit:
            front += f" (commit {self.frontend_commit[:12]})"
        api = f"{self.api_commit[:12]} ({self.api_source})" if self.api_commit else "unknown"
        return f"api {api}; frontend {front}; database migration {self.migration_version or '?'}"


def _commit_in(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    for key in COMMIT_KEYS:
        value = body.get(key)
        if isinstance(value, str) and _SHA.match(value.strip().lower()):
            return value.strip().lower()
    return None


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _get(client: Any, url: str, headers: dict[str, str] | None = None) -> Any:
    """The answer, or None when there is none (a deployment too slow or down states nothing;
    the health and frontend items judge that)."""
    import httpx  # here: the verdict's command reads gate files and needs no HTTP client

    try:
        return client.get(url, headers=headers) if headers else client.get(url)
    except httpx.HTTPError:
        return None


def _ok(response: Any) -> bool:
    return response is not None and response.status_code == 200


def read_api_build(
    api: Any, http: Any, api_url: str, vercel_token: str | None
) -> tuple[str | None, str]:
    """(commit, source): the health body, ``/api/version``, Vercel's metadata, else unknown."""
    for path, source in (("/api/health", "health"), ("/api/version", "version")):
        response = _get(api, path)
        commit = _commit_in(_json(response)) if _ok(response) else None
        if commit:
            return commit, source
    if vercel_token:
        host = urlsplit(api_url).hostname or ""
        auth = {"Authorization": f"Bearer {vercel_token}"}
        response = _get(http, VERCEL_API + host, auth)
        if response is None:
            return None, "unknown"
        meta = (_json(response) or {}).get("meta") if response.status_code == 200 else None
        commit = (meta or {}).get("githubCommitSha") if isinstance(meta, dict) else None
        if isinstance(commit, str) and _SHA.match(commit.lower()):
            return commit.lower(), "vercel"
    return None, "unknown"


def read_bundle(http: Any, frontend_url: str) -> tuple[str | None, str | None]:
    """(``"<path> sha256:<hex>"``, stated commit) of the entry script ``index.html`` loads."""
    page = _get(http, frontend_url.rstrip("/") + "/")
    match = _SCRIPT.search(page.text) if page is not None and page.status_code == 200 else None
    if match is None:
        return None, None
    bundle = _get(http, urljoin(frontend_url.rstrip("/") + "/", match.group(1)))
    if bundle is None or bundle.status_code != 200:
        return None, None
    digest = hashlib.sha256(bundle.content).hexdigest()
    stated = _BUNDLE_COMMIT.search(bundle.text)
    return f"{match.group(1)} sha256:{digest}", stated.group(1) if stated else None


def read_migration_version(db: Any) -> str | None:
    if db is None:
        return None
    import psycopg  # here, as httpx in _get: the verdict's command imports this module

    try:
        row = db.execute("select max(version) from supabase_migrations.schema_migrations")
        row = row.fetchone()
    except psycopg.Error:  # no ledger (a project not migrated with the Supabase CLI)
        return None
    return str(row[0]) if row and row[0] is not None else None


def same_commit(stated: str, expected: str) -> bool:
    """Equal, or one an abbreviation (7+ characters) of the other."""
    a, b = stated.strip().lower(), expected.strip().lower()
    return len(min(a, b, key=len)) >= 7 and (a.startswith(b) or b.startswith(a))


def describe_identity(recorded: Mapping[str, Any]) -> str:
    """One line of an identity as recorded in a gate file."""
    fields = {k: recorded.get(k) for k in DeployedIdentity.__dataclass_fields__}
    line = DeployedIdentity(**fields).describe()  # type: ignore[arg-type]
    expected = recorded.get("expected_commit")
    return line + (f"; release {str(expected)[:12]}" if expected else "")


def identity_of(verdict: Any) -> dict[str, Any] | None:
    """The identity the ``release.identity`` check recorded in this verdict, if it ran."""
    for item in [*verdict.items, *verdict.out_of_scope]:
        if item.id == ITEM and isinstance(item.metrics.get("identity"), dict):
            return dict(item.metrics["identity"])
    return None
