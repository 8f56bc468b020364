"""In-memory stand-ins for supabase-py's table/storage API and a psycopg connection."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Result:
    data: list[dict[str, Any]]


class _Query:
    def __init__(self, fake: FakeSupabase, table: str) -> None:
        self.fake, self.table, self.mode = fake, table, "select"
        self.filters: list[tuple[str, str, str]] = []
        self.window: tuple[int, int] | None = None

    def select(self, _cols: str) -> _Query:
        self.mode = "select"
        return self

    def delete(self) -> _Query:
        self.mode = "delete"
        return self

    def eq(self, col: str, value: object) -> _Query:
        self.filters.append(("eq", col, str(value)))
        return self

    def in_(self, col: str, values: list[object]) -> _Query:
        if self.fake.in_error is not None:
            raise self.fake.in_error
        self.filters.append(("in", col, ",".join(map(str, values))))
        return self

    def like(self, col: str, pattern: str) -> _Query:
        self.filters.append(("like", col, pattern))
        return self

    def order(self, _col: str) -> _Query:
        return self

    def range(self, start: int, end: int) -> _Query:
        self.window = (start, end)
        return self

    def _match(self, row: dict[str, Any]) -> bool:
        for op, col, value in self.filters:
            cell = str(row.get(col))
            if op == "eq" and cell != value:
                return False
            if op == "in" and not self.fake.in_ignored and cell not in value.split(","):
                return False
            glob = value.replace("[", "[[]").replace("%", "*")
            if op == "like" and not fnmatch.fnmatchcase(cell, glob):
                return False
        return True

    def execute(self) -> _Result:
        self.fake.calls.append((self.mode, self.table, tuple(self.filters)))
        rows = self.fake.tables.setdefault(self.table, [])
        hit = [r for r in rows if self._match(r)]
        if self.mode == "delete":
            if self.table in self.fake.fail_delete_tables:
                raise RuntimeError(f"delete on {self.table} refused by fake")
            if self.table not in self.fake.noop_delete_tables:
                self.fake.tables[self.table] = [r for r in rows if not self._match(r)]
            return _Result(hit)
        if self.window:
            hit = hit[self.window[0] : self.window[1] + 1]
        return _Result(hit)


class _Bucket:
    def __init__(self, fake: FakeSupabase, bucket: str) -> None:
        self.fake, self.bucket = fake, bucket

    def download(self, path: str) -> bytes:
        self.fake.calls.append(("download", self.bucket, path))
        if path not in self.fake.objects.get(self.bucket, set()):
            raise RuntimeError(f"{path} not found in fake")
        return self.fake.contents.get(path, b"")

    def remove(self, paths: list[str]) -> list[dict[str, Any]]:
        self.fake.calls.append(("remove", self.bucket, tuple(paths)))
        if self.fake.fail_remove:
            raise RuntimeError("storage remove failed in fake")
        names = self.fake.objects.setdefault(self.bucket, set())
        gone = [p for p in paths if p in names]
        names.difference_update(paths)
        return [{"name": p} for p in gone]

    def list(
        self, path: str | None = None, options: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        self.fake.calls.append(("list", self.bucket, path))
        prefix = (path or "").strip("/")
        prefix = f"{prefix}/" if prefix else ""
        search = (options or {}).get("search", "")
        entries: dict[str, dict[str, Any]] = {}
        for name in sorted(self.fake.objects.get(self.bucket, set())):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            head, sep, _ = rest.partition("/")
            if not head.lower().startswith(search.lower()):
                continue
            created = None if sep else self.fake.created.get(name)
            entries[head] = {
                "name": head,
                "id": None if sep else f"id-{head}",
                "created_at": created,
            }
        items = list(entries.values())
        offset = (options or {}).get("offset", 0)
        limit = (options or {}).get("limit", 100)
        return items[offset : offset + limit]


class _Storage:
    def __init__(self, fake: FakeSupabase) -> None:
        self.fake = fake

    def list_buckets(self) -> list[dict[str, Any]]:
        self.fake.calls.append(("list_buckets",))
        if self.fake.list_error is not None:
            raise self.fake.list_error
        names = sorted({*self.fake.objects, *self.fake.buckets})
        return [{"id": name, "name": name} for name in names]

    def from_(self, bucket: str) -> _Bucket:
        return _Bucket(self.fake, bucket)


@dataclass
class FakeSupabase:
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    objects: dict[str, set[str]] = field(default_factory=dict)
    fail_delete_tables: set[str] = field(default_factory=set)
    noop_delete_tables: set[str] = field(default_factory=set)
    fail_remove: bool = False
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    #: object name -> created_at (ISO) as storage lists it; absent: no created_at given.
    created: dict[str, str] = field(default_factory=dict)
    #: object name -> stored bytes (absent: empty)
    contents: dict[str, bytes] = field(default_factory=dict)
    #: buckets without objects
    buckets: set[str] = field(default_factory=set)
    list_error: Exception | None = None
    #: raised by ``in_`` (a target or client without the ``in`` filter)
    in_error: Exception | None = None
    #: ``in`` filters match every row (a target that ignores them)
    in_ignored: bool = False

    def table(self, name: str) -> _Query:
        return _Query(self, name)

    @property
    def storage(self) -> _Storage:
        return _Storage(self)


class _Cursor:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class FakeDb:
    """Understands exactly the SQL the ledger and janitor send, against a FakeSupabase."""

    def __init__(self, fake: FakeSupabase) -> None:
        self.fake = fake
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = False

    def execute(self, query: Any, params: tuple[Any, ...]) -> _Cursor:
        text = query if isinstance(query, str) else query.as_string(None)
        self.statements.append((text, params))
        if "storage.objects" in text:
            bucket, name = params
            names = self.fake.objects.setdefault(bucket, set())
            present = name in names
            if text.startswith("delete"):
                names.discard(name)
            return _Cursor([(self.fake.created.get(name),)] if present else [])
        select = re.match(r'select (.+), created_at from "(\w+)" where "(\w+)" = %s$', text)
        if select:
            listed, table, col = select.groups()
            columns = [*re.findall(r'"(\w+)"', listed), "created_at"]
            rows = self.fake.tables.setdefault(table, [])
            hit = [r for r in rows if str(r.get(col)) == str(params[0])]
            return _Cursor([tuple(r.get(c) for c in columns) for r in hit])
        delete = re.match(r'delete from "(\w+)" where "(\w+)" = %s and "(\w+)" = %s$', text)
        assert delete, text
        table, col, title_col = delete.groups()
        rows = self.fake.tables.setdefault(table, [])
        hit = [r for r in rows if str(r.get(col)) == params[0] and r.get(title_col) == params[1]]
        self.fake.tables[table] = [r for r in rows if r not in hit]
        return _Cursor([])

    def close(self) -> None:
        self.closed = True
