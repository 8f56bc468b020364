"""The release's migrations as a chain: what the repository's code needs from it.

Three properties the platform's newest build (H) breaks and ``supabase db reset`` does not show:
a version is one file, once (H uses 11 versions twice and reuses versions of deleted files under
new names, so the ledger's row no longer says which file ran); every table the backend's code
reads or writes (``.from('…')``, ``.rpc('…')``) is created by the chain or declared external
(H's API uses ``content_pieces`` and ``content_share_positions``, which no migration creates);
and the bucket the API uploads to is created by a migration or a documented step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promorang_gate.release.migrations import Ledger, MigrationFile, duplicate_versions

__all__ = [
    "CODE_DIRS",
    "Usage",
    "bucket_creation",
    "chain_objects",
    "missing_objects",
    "reused_versions",
    "used_objects",
]

#: Folders of the application repository whose code talks to the database.
CODE_DIRS = ("backend", "api")
CODE_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
MAX_CODE_FILES = 5000
_NAME = r"""["'`]\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?)\s*["'`]"""
_FROM = re.compile(rf"\.from\(\s*{_NAME}\s*\)")
_RPC = re.compile(rf"\.rpc\(\s*{_NAME}")
_IDENT = r'(?:"?([A-Za-z_][\w]*)"?\s*\.\s*)?"?([A-Za-z_][\w]*)"?'
_CREATE_TABLE = re.compile(
    rf"\bcreate\s+(?:(?:global\s+|local\s+)?(?:temp|temporary|unlogged)\s+)?table\s+"
    rf"(?:if\s+not\s+exists\s+)?{_IDENT}",
    re.I,
)
_CREATE_VIEW = re.compile(
    rf"\bcreate\s+(?:or\s+replace\s+)?(?:materialized\s+)?view\s+(?:if\s+not\s+exists\s+)?{_IDENT}",
    re.I,
)
_RENAME = re.compile(
    rf"\balter\s+table\s+(?:if\s+exists\s+)?{_IDENT}\s+rename\s+to\s+{_IDENT}", re.I
)
_DROP = re.compile(
    rf"\bdrop\s+(?:table|view|materialized\s+view)\s+(?:if\s+exists\s+)?{_IDENT}", re.I
)
_CREATE_FUNCTION = re.compile(rf"\bcreate\s+(?:or\s+replace\s+)?function\s+{_IDENT}\s*\(", re.I)
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def reused_versions(files: Sequence[MigrationFile], ledger: Ledger | None) -> list[str]:
    """Versions claimed by two files, or recorded by the ledger for another file's name."""
    problems = [
        f"version {version} is used by {len(names)} files: {', '.join(names)}"
        for version, names in sorted(duplicate_versions(files).items())
    ]
    if ledger is not None:
        for f in files:
            row = ledger.row(f.version)
            if row is not None and row.name and row.name != f.name:
                problems.append(
                    f"version {f.version} was recorded for {row.name!r}; the repository now"
                    f" has {f.file_name} under it (a reused version: the target never runs it)"
                )
    return problems


@dataclass
class Usage:
    """Names the code uses: table or view -> files, function -> files."""

    tables: dict[str, list[str]] = field(default_factory=dict)
    functions: dict[str, list[str]] = field(default_factory=dict)


def _code_files(repo: Path, dirs: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in dirs:
        root = repo / name
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if "node_modules" in path.parts or not path.name.endswith(CODE_SUFFIXES):
                continue
            if path.is_file():
                found.append(path)
            if len(found) >= MAX_CODE_FILES:
                return found
    return found


def used_objects(repo: Path, dirs: Iterable[str] = CODE_DIRS) -> Usage:
    """``.from('…')`` (not ``storage.from``: that names a bucket) and ``.rpc('…')`` names."""
    usage = Usage()
    for path in _code_files(repo, dirs):
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(repo).as_posix()
        for match in _FROM.finditer(text):
            before = text[max(0, match.start() - 60) : match.start()].rstrip()
            if before.endswith("storage"):
                continue
            usage.tables.setdefault(_bare(match.group(1)), []).append(where)
        for match in _RPC.finditer(text):
            usage.functions.setdefault(_bare(match.group(1)), []).append(where)
    return usage


def _bare(name: str) -> str:
    schema, _, table = name.rpartition(".")
    return table if schema in ("", "public") else name


def _qualified(schema: str | None, name: str) -> str:
    return name if schema in (None, "", "public") else f"{schema}.{name}"


def chain_objects(files: Sequence[MigrationFile]) -> tuple[set[str], set[str]]:
    """(tables and views, functions) the chain leaves behind, applied in order."""
    tables: set[str] = set()
    functions: set[str] = set()
    for f in files:
        sql = _COMMENT.sub(" ", f.text)
        events: list[tuple[int, str, str, str | None]] = []
        for m in _CREATE_TABLE.finditer(sql):
            events.append((m.start(), "add", _qualified(m[1], m[2]), None))
        for m in _CREATE_VIEW.finditer(sql):
            events.append((m.start(), "add", _qualified(m[1], m[2]), None))
        for m in _DROP.finditer(sql):
            events.append((m.start(), "drop", _qualified(m[1], m[2]), None))
        for m in _RENAME.finditer(sql):
            renamed = _qualified(m[3] or m[1], m[4])
            events.append((m.start(), "rename", _qualified(m[1], m[2]), renamed))
        for _, kind, name, new in sorted(events, key=lambda e: e[0]):
            if kind == "add":
                tables.add(name)
            elif kind == "drop":
                tables.discard(name)
            elif new is not None:
                tables.discard(name)
                tables.add(new)
        functions |= {_qualified(m[1], m[2]) for m in _CREATE_FUNCTION.finditer(sql)}
    return tables, functions


def missing_objects(
    usage: Usage, files: Sequence[MigrationFile], external: Iterable[str] = ()
) -> list[str]:
    """What the code uses that the chain does not create and nobody declared external."""
    tables, functions = chain_objects(files)
    declared = {_bare(name.strip()) for name in external if name.strip()}
    problems = [
        f"table {name!r} (used in {', '.join(sorted(set(where))[:3])}) is created by no migration"
        for name, where in sorted(usage.tables.items())
        if name not in tables and name not in declared
    ]
    problems += [
        f"function {name!r} (.rpc in {', '.join(sorted(set(where))[:3])}) is created by no"
        " migration"
        for name, where in sorted(usage.functions.items())
        if name not in functions and name not in declared
    ]
    return problems


_DOCS = ("README.md", "docs", "supabase")


def bucket_creation(repo: Path, files: Sequence[MigrationFile], bucket: str) -> str | None:
    """Where the bucket is created: a migration inserting it into ``storage.buckets`` (or calling
    ``storage.create_bucket``), or a documented step (a Markdown line naming the bucket and
    saying "bucket"); None when neither."""
    quoted = re.compile(rf"""['"]{re.escape(bucket)}['"]""")
    for f in files:
        sql = _COMMENT.sub(" ", f.text).lower()
        if ("storage.buckets" in sql or "create_bucket" in sql) and quoted.search(f.text):
            return f"migration {f.file_name}"
    for name in _DOCS:
        root = repo / name
        paths = [root] if root.is_file() else sorted(root.rglob("*.md")) if root.is_dir() else []
        for path in paths[:500]:
            for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
                if bucket in line and "bucket" in line.lower().replace(bucket, ""):
                    return f"documented step {path.relative_to(repo).as_posix()}:{number}"
    return None
