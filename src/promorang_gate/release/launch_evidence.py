"""Launch evidence kept in the application's repository (runbook section 8).

"API docs updated": ``docs/API_DOCS.md`` names every operation of the contract
(``contract/openapi.yaml``) and every Growth Hub route the API declares. The routes are read from
the backend as Express declares them (``app.get('/api/...')``, ``router.post('/x')`` in a file
mounted with ``app.use('/api/growth', require('./growth'))``); Growth Hub routes are those under
``/api/growth``. The docs may give paths relative to a base URL they state
(``https://api.promorang.com/api/growth`` then ``GET /staking/channels``), as Promorang's do.

"Rollback plan documented": the release notes ``docs/releases/<YYYY-MM-DD>.md`` (runbook section
3) have a rollback section saying how to roll back the backend, the database and the frontend
(runbook section 5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from promorang_gate.safe_yaml import load_document

__all__ = [
    "API_DOCS",
    "GROWTH_HUB_PREFIX",
    "EvidenceMissing",
    "Operation",
    "check_api_docs",
    "check_rollback_plan",
    "declared_routes",
    "documented_operations",
    "growth_hub_routes",
    "openapi_operations",
    "release_notes_path",
]

API_DOCS = "docs/API_DOCS.md"
RELEASES_DIR = "docs/releases"
BACKEND_DIR = "backend"
GROWTH_HUB_PREFIX = "/api/growth"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_SOURCES = ("*.js", "*.ts", "*.mjs", "*.cjs")
_DOC_OP = re.compile(rf"\b({'|'.join(METHODS)})\s+`?(?:https?://[^/\s`'\"]+)?(/[^\s`'\"<>)\]]*)")
_URL_PATH = re.compile(r"https?://[^/\s`'\"<>)]+(/[^\s`'\"<>)\]]*)")
_ROUTE = re.compile(
    rf"\b\w+\s*\.\s*({'|'.join(m.lower() for m in METHODS)})\s*\(\s*['\"`](/[^'\"`]*)['\"`]"
)
_MOUNT = re.compile(
    r"\b\w+\s*\.\s*use\s*\(\s*['\"`](/[^'\"`]*)['\"`]\s*,\s*"
    r"(?:require\s*\(\s*['\"]([^'\"]+)['\"]\s*\)|([A-Za-z_$][\w$]*))"
)
_IMPORT = re.compile(
    r"(?:(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*require\s*\(\s*['\"]([^'\"]+)['\"]\s*\)"
    r"|import\s+([A-Za-z_$][\w$]*)\s+from\s+['\"]([^'\"]+)['\"])"
)
_ROLLBACK_HEADING = re.compile(r"roll\s*-?\s*back", re.IGNORECASE)
# Runbook section 5 names the backend, Supabase and the frontend.
ROLLBACK_PARTS = {
    "backend": re.compile(r"\b(backend|api)\b", re.IGNORECASE),
    "database": re.compile(r"\b(database|supabase|db|migrations?)\b", re.IGNORECASE),
    "frontend": re.compile(r"\bfrontend\b", re.IGNORECASE),
}


class EvidenceMissing(AssertionError):
    """A launch document is missing or incomplete."""


@dataclass(frozen=True, order=True)
class Operation:
    method: str
    path: str  # normalised: parameters as {}, no trailing slash

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def normalise_path(path: str) -> str:
    """``/api/content/:id/``, ``/api/content/{id}`` and ``/api/content/<id>`` -> ``.../{}``."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = ["{}" if re.fullmatch(r":\w+\??|\{[^}]*\}|<[^>]*>", p) else p for p in path.split("/")]
    return "/".join(parts).rstrip("/") or "/"


def _join(prefix: str, path: str) -> str:
    return normalise_path(prefix.rstrip("/") + "/" + path.lstrip("/"))


def openapi_operations(spec: Path) -> list[Operation]:
    """Every operation of an OpenAPI document."""
    data = load_document(spec.read_text(encoding="utf-8")) or {}
    return sorted(
        Operation(method.upper(), normalise_path(str(path)))
        for path, item in (data.get("paths") or {}).items()
        for method in (item or {})
        if str(method).upper() in METHODS
    )


def documented_operations(markdown: str) -> set[Operation]:
    """``METHOD /path`` mentions, also resolved against every base path the document states."""
    bases = {normalise_path(m[1]) for m in _URL_PATH.finditer(markdown) if m[1].strip("/")}
    found: set[Operation] = set()
    for match in _DOC_OP.finditer(markdown):
        method, path = match[1], match[2]
        found.add(Operation(method, normalise_path(path)))
        found |= {Operation(method, _join(base, path)) for base in bases}
    return found


# -- the backend's routes, as Express declares them ------------------------------------------------


def _sources(backend: Path) -> list[Path]:
    files = {p for pattern in _SOURCES for p in backend.rglob(pattern)}
    return sorted(p for p in files if "node_modules" not in p.parts and p.is_file())


def _resolve_module(spec: str, importer: Path) -> Path | None:
    if not spec.startswith("."):
        return None
    base = (importer.parent / spec).resolve()
    candidates = [base, *(base.with_name(base.name + s[1:]) for s in _SOURCES)]
    candidates += [base / f"index{s[1:]}" for s in _SOURCES]
    return next((c for c in candidates if c.is_file()), None)


def _mounts(files: Iterable[Path], texts: dict[Path, str]) -> dict[Path, list[tuple[Path, str]]]:
    """router file -> [(mounting file, prefix)]."""
    mounts: dict[Path, list[tuple[Path, str]]] = {}
    for path in files:
        text = texts[path]
        imports = {(m[1] or m[3]): (m[2] or m[4]) for m in _IMPORT.finditer(text)}
        for match in _MOUNT.finditer(text):
            spec = match[2] or imports.get(match[3] or "")
            target = _resolve_module(spec, path) if spec else None
            if target is not None:
                mounts.setdefault(target.resolve(), []).append((path.resolve(), match[1]))
    return mounts


def _prefixes(path: Path, mounts: dict[Path, list[tuple[Path, str]]], depth: int = 0) -> set[str]:
    """Every prefix a file's routes are served under ("" for a file nobody mounts)."""
    if path not in mounts or depth > 8:
        return {""}
    return {
        _join(outer, prefix)
        for parent, prefix in mounts[path]
        for outer in _prefixes(parent, mounts, depth + 1)
    }


def declared_routes(repo: Path) -> list[Operation]:
    """Every route the backend (``backend/``) declares, with the prefixes it is mounted under."""
    backend = repo / BACKEND_DIR
    if not backend.is_dir():
        return []
    files = _sources(backend)
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in files}
    mounts = _mounts(files, texts)
    routes: set[Operation] = set()
    for path in files:
        prefixes = _prefixes(path.resolve(), mounts)
        for match in _ROUTE.finditer(texts[path]):
            routes |= {Operation(match[1].upper(), _join(p, match[2])) for p in prefixes}
    return sorted(routes)


def growth_hub_routes(repo: Path) -> list[Operation]:
    return [
        op
        for op in declared_routes(repo)
        if op.path == GROWTH_HUB_PREFIX or op.path.startswith(GROWTH_HUB_PREFIX + "/")
    ]


def check_api_docs(repo: Path, spec: Path) -> tuple[int, int]:
    """EvidenceMissing unless the API docs name every contract operation and Growth Hub route;
    returns (contract operations, Growth Hub routes) checked."""
    docs = repo / API_DOCS
    if not docs.is_file():
        raise EvidenceMissing(f"{API_DOCS} does not exist in {repo}: the API is not documented")
    documented = documented_operations(docs.read_text(encoding="utf-8", errors="replace"))
    contract = openapi_operations(spec)
    growth = growth_hub_routes(repo)
    missing = [op for op in contract if op not in documented]
    missing += [op for op in growth if op not in documented and op not in missing]
    if missing:
        raise EvidenceMissing(
            f"{API_DOCS} does not document {len(missing)} operation(s) the API serves:"
            f" {', '.join(map(str, missing))} (checked: {len(contract)} of {spec.name},"
            f" {len(growth)} Growth Hub route(s) declared under {BACKEND_DIR}/)"
        )
    return len(contract), len(growth)


# -- release notes ---------------------------------------------------------------------------------


def release_notes_path(date: str) -> str:
    return f"{RELEASES_DIR}/{date}.md"


def _rollback_section(markdown: str) -> str | None:
    """The text under the first heading that speaks of rolling back, up to the next heading of
    the same or a higher level."""
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading is None or not _ROLLBACK_HEADING.search(heading[2]):
            continue
        level, body = len(heading[1]), []
        for following in lines[index + 1 :]:
            other = re.match(r"^(#{1,6})\s", following)
            if other is not None and len(other[1]) <= level:
                break
            body.append(following)
        return "\n".join(body)
    return None


def check_rollback_plan(repo: Path, date: str, date_source: str) -> None:
    """EvidenceMissing unless the release notes hold a complete rollback section."""
    relative = release_notes_path(date)
    notes = repo / relative
    if not notes.is_file():
        raise EvidenceMissing(
            f"{relative} does not exist in {repo} (release date {date} from {date_source}):"
            " no release notes, so no rollback plan"
        )
    section = _rollback_section(notes.read_text(encoding="utf-8", errors="replace"))
    if section is None:
        raise EvidenceMissing(f"{relative} has no rollback section (a heading naming rollback)")
    lacking = [part for part, pattern in ROLLBACK_PARTS.items() if not pattern.search(section)]
    if lacking:
        raise EvidenceMissing(
            f"the rollback section of {relative} does not say how to roll back the"
            f" {' and the '.join(lacking)} (runbook section 5: backend, Supabase, frontend)"
        )
