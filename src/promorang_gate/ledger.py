"""Everything a test creates is registered here and removed at teardown, also when it failed."""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.environments import Target

__all__ = ["CleanupError", "CleanupLedger", "ObjectEntry", "RowEntry"]


class CleanupError(Exception):
    """Some of what a test created could not be removed (or is still there)."""

    def __init__(self, target_name: str, failures: list[str]) -> None:
        lines = "\n".join(f"  - {f}" for f in failures)
        super().__init__(f"cleanup on {target_name} left {len(failures)} thing(s) behind:\n{lines}")
        self.failures = failures


@dataclass(frozen=True)
class RowEntry:
    table: str
    column: str
    value: str

    def __str__(self) -> str:
        return f"row {self.table}.{self.column}={self.value}"


@dataclass(frozen=True)
class ObjectEntry:
    bucket: str
    path: str

    def __str__(self) -> str:
        return f"object {self.bucket}/{self.path}"


Entry = RowEntry | ObjectEntry


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _batches(entries: list[Entry]) -> list[list[Entry]]:
    """Consecutive objects of one bucket form a batch; rows stay one by one, in order."""
    batches: list[list[Entry]] = []
    for entry in entries:
        last = batches[-1][-1] if batches else None
        same_bucket = (
            isinstance(entry, ObjectEntry)
            and isinstance(last, ObjectEntry)
            and last.bucket == entry.bucket
        )
        if same_bucket:
            batches[-1].append(entry)
        else:
            batches.append([entry])
    return batches


class CleanupLedger:
    """Registry of created rows and objects; :meth:`cleanup` removes them in reverse order."""

    def __init__(
        self,
        target: Target,
        supabase_factory: Callable[[], supabase.Client],
        db_factory: Callable[[], psycopg.Connection[tuple[Any, ...]] | None],
        log: Callable[[str], None],
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """``db_factory`` is called only for a fallback; the ledger closes what it returns."""
        self.target = target
        self._redact = redact or (lambda text: text)
        self._supabase_factory = supabase_factory
        self._db_factory = db_factory
        self._log = log
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        self._db: psycopg.Connection[tuple[Any, ...]] | None = None
        self._db_tried = False

    # Registration -----------------------------------------------------------------------------
    def content(self, content_id: str) -> None:
        """A ``content_items`` row. Its share positions go with it by FK cascade; deleting them
        by name would fail exactly when the positions migration is missing."""
        self.row("content_items", "id", content_id)

    def row(self, table: str, column: str, value: object) -> None:
        with self._lock:
            self._entries.append(RowEntry(table, column, str(value)))

    def object(self, bucket: str, path: str) -> None:
        with self._lock:
            self._entries.append(ObjectEntry(bucket, path.lstrip("/")))

    @property
    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    # Cleanup ----------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove everything in reverse order, verify it is gone, raise one CleanupError if not."""
        with self._lock:
            entries, self._entries = self._entries[::-1], []
        if not entries:
            return
        if not self.target.writes_allowed:
            self._log(f"cleanup on {self.target.name}: writes not allowed, nothing was created")
            return
        failures: list[str] = []
        try:
            client = self._supabase_factory()
            for batch in _batches(list(dict.fromkeys(entries))):
                problems = self._remove_batch(client, batch)
                for entry in batch:
                    if problems.get(entry):
                        failures.append(self._redact(f"{entry}: {problems[entry]}"))
                    else:
                        self._log(f"cleanup on {self.target.name}: removed {entry}")
        finally:
            self._close_db()
        if failures:
            raise CleanupError(self.target.name, failures)

    def _remove_batch(self, client: supabase.Client, batch: list[Entry]) -> dict[Entry, str]:
        """Problems by entry. Objects of one bucket go in one request and are verified with one
        listing per folder: an SLO sample leaves twenty of them."""
        if len(batch) == 1 or not isinstance(batch[0], ObjectEntry):
            return {e: p for e in batch if (p := self._remove(client, e))}
        objects = [e for e in batch if isinstance(e, ObjectEntry)]
        try:
            client.storage.from_(objects[0].bucket).remove([e.path for e in objects])
            left = self._objects_left(client, objects)
        except Exception:
            # One by one, each with its own SQL fallback and message.
            return {e: p for e in batch if (p := self._remove(client, e))}
        return {e: "still present after delete" for e in objects if e in left}

    @staticmethod
    def _objects_left(client: supabase.Client, objects: list[ObjectEntry]) -> set[ObjectEntry]:
        bucket = client.storage.from_(objects[0].bucket)
        listed: dict[str, set[str]] = {}
        for folder in dict.fromkeys(posixpath.dirname(e.path) for e in objects):
            items = bucket.list(folder, {"limit": 1000})
            listed[folder] = {str(item.get("name")) for item in items}
        return {
            e for e in objects if posixpath.basename(e.path) in listed[posixpath.dirname(e.path)]
        }

    def _remove(self, client: supabase.Client, entry: Entry) -> str | None:
        """Delete one entry (REST, then SQL fallback) and verify; returns a problem or None."""
        try:
            self._delete_rest(client, entry)
        except Exception as rest_exc:
            db = self._connection()
            if db is None:
                return f"delete failed ({_error(rest_exc)}); no database URL for a fallback"
            try:
                self._delete_sql(db, entry)
            except Exception as sql_exc:
                return f"delete failed ({_error(rest_exc)}); SQL fallback: {_error(sql_exc)}"
        try:
            gone = self._gone_rest(client, entry)
        except Exception as exc:
            db = self._connection()
            if db is None:
                return f"could not verify removal ({_error(exc)})"
            try:
                gone = self._gone_sql(db, entry)
            except Exception as sql_exc:
                return f"could not verify removal ({_error(exc)}; SQL: {_error(sql_exc)})"
        return None if gone else "still present after delete"

    @staticmethod
    def _delete_rest(client: supabase.Client, entry: Entry) -> None:
        if isinstance(entry, RowEntry):
            client.table(entry.table).delete().eq(entry.column, entry.value).execute()
        else:
            client.storage.from_(entry.bucket).remove([entry.path])

    @staticmethod
    def _gone_rest(client: supabase.Client, entry: Entry) -> bool:
        if isinstance(entry, RowEntry):
            found = client.table(entry.table).select(entry.column).eq(entry.column, entry.value)
            return not found.execute().data
        folder, name = posixpath.split(entry.path)
        listed = client.storage.from_(entry.bucket).list(folder, {"search": name, "limit": 100})
        return all(item.get("name") != name for item in listed)

    @staticmethod
    def _delete_sql(db: psycopg.Connection[tuple[Any, ...]], entry: Entry) -> None:
        from psycopg import sql

        if isinstance(entry, ObjectEntry):
            db.execute(
                "delete from storage.objects where bucket_id = %s and name = %s",
                (entry.bucket, entry.path),
            )
            return
        query = sql.SQL("delete from {} where {} = %s").format(
            sql.Identifier(*entry.table.split(".")), sql.Identifier(entry.column)
        )
        db.execute(query, (entry.value,))

    @staticmethod
    def _gone_sql(db: psycopg.Connection[tuple[Any, ...]], entry: Entry) -> bool:
        from psycopg import sql

        if isinstance(entry, ObjectEntry):
            cur = db.execute(
                "select 1 from storage.objects where bucket_id = %s and name = %s",
                (entry.bucket, entry.path),
            )
        else:
            query = sql.SQL("select 1 from {} where {} = %s limit 1").format(
                sql.Identifier(*entry.table.split(".")), sql.Identifier(entry.column)
            )
            cur = db.execute(query, (entry.value,))
        return cur.fetchone() is None

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]] | None:
        if not self._db_tried:
            self._db_tried = True
            try:
                self._db = self._db_factory()
            except Exception as exc:
                self._log(self._redact(f"cleanup on {self.target.name}: no db ({_error(exc)})"))
                self._db = None
        return self._db

    def _close_db(self) -> None:
        self._db_tried = False
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except Exception as exc:
                self._log(f"cleanup on {self.target.name}: closing the database: {_error(exc)}")
