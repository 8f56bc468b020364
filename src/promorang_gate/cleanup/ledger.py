"""Everything a test creates is registered here and removed at teardown, also when it failed.

Only what the run can prove it created is removed (``ownership.py``): before a delete the ledger
reads the stored row or object and checks this run's tag and creation time. A registered id or
URL that fails the check (a deployment answering the id of someone else's row) is left alone
and reported as a teardown error: the deployment answered data the test did not create.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promorang_gate.cleanup import tags
from promorang_gate.cleanup.ownership import object_problem, row_problem

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.target.environments import Target

__all__ = ["CleanupError", "CleanupLedger", "ObjectEntry", "RowEntry"]

_PAGE = 1000
_MAX_PAGES = 20


class CleanupError(Exception):
    """Some of what a test registered was not removed: it could not be, or it was not ours."""

    def __init__(
        self, target_name: str, failures: Sequence[str], foreign: Sequence[str] = ()
    ) -> None:
        self.failures = list(failures)
        self.foreign = list(foreign)
        if self.foreign:
            head = (
                f"cleanup on {target_name}: {len(self.foreign)} registered thing(s) were not"
                " created by this run and were left alone (the deployment answered ids or URLs"
                " of other data)"
            )
            if self.failures:
                head += f"; {len(self.failures)} could not be removed"
        else:
            head = f"cleanup on {target_name} left {len(self.failures)} thing(s) behind"
        lines = "\n".join(f"  - {f}" for f in [*self.foreign, *self.failures])
        super().__init__(f"{head}:\n{lines}")


@dataclass(frozen=True)
class RowEntry:
    table: str
    column: str
    value: str
    title_column: str = "title"

    def __str__(self) -> str:
        return f"row {self.table}.{self.column}={self.value}"


@dataclass(frozen=True)
class ObjectEntry:
    bucket: str
    path: str

    def __str__(self) -> str:
        return f"object {self.bucket}/{self.path}"


Entry = RowEntry | ObjectEntry
_Stored = dict[str, Any]


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


def _listed(bucket: Any, folder: str) -> dict[str, _Stored]:
    """The files of one folder by name (paged)."""
    found: dict[str, _Stored] = {}
    for page in range(_MAX_PAGES):
        items: list[_Stored] = bucket.list(folder, {"limit": _PAGE, "offset": page * _PAGE})
        found.update({str(i.get("name")): i for i in items if i.get("id") is not None})
        if len(items) < _PAGE:
            break
    return found


class CleanupLedger:
    """Registry of created rows and objects; :meth:`cleanup` removes this run's, in reverse."""

    def __init__(
        self,
        target: Target,
        supabase_factory: Callable[[], supabase.Client],
        db_factory: Callable[[], psycopg.Connection[tuple[Any, ...]] | None],
        log: Callable[[str], None],
        redact: Callable[[str], str] | None = None,
        *,
        run_id: str,
        run_started_at: dt.datetime | None = None,
    ) -> None:
        """``db_factory`` is called only for a fallback; the ledger closes what it returns.
        ``run_started_at`` defaults to the time the run id encodes."""
        started = run_started_at or tags.run_started_at(run_id)
        if started is None:
            raise ValueError(f"{run_id!r} is not a run id")
        self.target = target
        self.run_id = run_id
        self.run_started_at = started
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

    def row(self, table: str, column: str, value: object, *, title_column: str = "title") -> None:
        """A row; removed only if its ``title_column`` carries the run's tag (and it has a
        ``created_at`` after the run started)."""
        with self._lock:
            self._entries.append(RowEntry(table, column, str(value), title_column))

    def object(self, bucket: str, path: str) -> None:
        with self._lock:
            self._entries.append(ObjectEntry(bucket, path.lstrip("/")))

    @property
    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def _error(self, exc: BaseException) -> str:
        """One line: redacted whole first, then cut (a cut secret would escape redaction)."""
        text = self._redact(str(exc)).strip()
        line = text.splitlines()[0] if text else ""
        line = line if len(line) <= 200 else line[:199] + "…"
        return f"{type(exc).__name__}: {line}" if line else type(exc).__name__

    # Cleanup ----------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove this run's things in reverse order, verify they are gone; one CleanupError
        for what could not be removed and what was not this run's."""
        with self._lock:
            entries, self._entries = self._entries[::-1], []
        if not entries:
            return
        if not self.target.writes_allowed or self.target.protected:
            self._log(f"cleanup on {self.target.name}: writes not allowed, nothing was created")
            return
        failures: list[str] = []
        foreign: list[str] = []
        try:
            client = self._supabase_factory()
            for batch in _batches(list(dict.fromkeys(entries))):
                for entry, (kind, detail) in self._process(client, batch).items():
                    line = self._redact(f"{entry}: {detail}")
                    if kind == "foreign":
                        foreign.append(line)
                    elif kind == "failed":
                        failures.append(line)
                    else:
                        self._log(f"cleanup on {self.target.name}: {line}")
        finally:
            self._close_db()
        if failures or foreign:
            raise CleanupError(self.target.name, failures, foreign)

    def _process(self, client: supabase.Client, batch: list[Entry]) -> dict[Entry, tuple[str, str]]:
        if isinstance(batch[0], RowEntry):
            return {batch[0]: self._row(client, batch[0])}
        objects = self._objects(client, [e for e in batch if isinstance(e, ObjectEntry)])
        return {entry: outcome for entry, outcome in objects.items()}

    # Rows -------------------------------------------------------------------------------------
    def _row(self, client: supabase.Client, entry: RowEntry) -> tuple[str, str]:
        try:
            rows = self._read_rows(client, entry)
        except Exception as exc:
            return "failed", f"could not read the stored row to check it is ours ({exc}); left"
        if not rows:
            return "gone", "already gone"
        for row in rows:
            problem = row_problem(row.get(entry.title_column), row.get("created_at"), self.run_id)
            if problem:
                return "foreign", f"not ours, left alone: {problem}"
        titles = {str(row[entry.title_column]) for row in rows}
        problem = self._remove_rows(client, entry, titles)
        return ("failed", problem) if problem else ("removed", "removed")

    def _read_rows(self, client: supabase.Client, entry: RowEntry) -> list[_Stored]:
        columns = f"{entry.title_column},created_at"
        try:
            query = client.table(entry.table).select(columns).eq(entry.column, entry.value)
            rows: Any = query.execute().data
            return [dict(row) for row in rows]
        except Exception as rest_exc:
            db = self._connection()
            if db is None:
                raise RuntimeError(self._error(rest_exc)) from None
            try:
                return self._read_rows_sql(db, entry)
            except Exception as sql_exc:
                raise RuntimeError(
                    f"{self._error(rest_exc)}; SQL: {self._error(sql_exc)}"
                ) from None

    @staticmethod
    def _read_rows_sql(db: psycopg.Connection[tuple[Any, ...]], entry: RowEntry) -> list[_Stored]:
        from psycopg import sql

        query = sql.SQL("select {}, created_at from {} where {} = %s").format(
            sql.Identifier(entry.title_column),
            sql.Identifier(*entry.table.split(".")),
            sql.Identifier(entry.column),
        )
        rows = db.execute(query, (entry.value,)).fetchall()
        return [{entry.title_column: title, "created_at": created} for title, created in rows]

    def _remove_rows(
        self, client: supabase.Client, entry: RowEntry, titles: set[str]
    ) -> str | None:
        """Delete the row(s) still carrying the checked title (REST, then SQL) and verify."""
        for title in titles:
            try:
                query = client.table(entry.table).delete().eq(entry.column, entry.value)
                query.eq(entry.title_column, title).execute()
            except Exception as rest_exc:
                db = self._connection()
                if db is None:
                    return (
                        f"delete failed ({self._error(rest_exc)}); no database URL for a fallback"
                    )
                try:
                    self._delete_row_sql(db, entry, title)
                except Exception as sql_exc:
                    return (
                        f"delete failed ({self._error(rest_exc)});"
                        f" SQL fallback: {self._error(sql_exc)}"
                    )
        try:
            left = self._read_rows(client, entry)
        except Exception as exc:
            return f"could not verify removal ({exc})"
        return "still present after delete" if left else None

    @staticmethod
    def _delete_row_sql(
        db: psycopg.Connection[tuple[Any, ...]], entry: RowEntry, title: str
    ) -> None:
        from psycopg import sql

        query = sql.SQL("delete from {} where {} = %s and {} = %s").format(
            sql.Identifier(*entry.table.split(".")),
            sql.Identifier(entry.column),
            sql.Identifier(entry.title_column),
        )
        db.execute(query, (entry.value, title))

    # Objects ----------------------------------------------------------------------------------
    def _objects(
        self, client: supabase.Client, objects: list[ObjectEntry]
    ) -> dict[ObjectEntry, tuple[str, str]]:
        """Objects of one bucket: checked by name, found with one listing per folder, removed
        in one request, verified with one more listing (an SLO sample leaves twenty)."""
        outcome: dict[ObjectEntry, tuple[str, str]] = {}
        named = []
        for entry in objects:
            problem = object_problem(entry.path, self.run_id)
            if problem:
                outcome[entry] = ("foreign", f"not ours, left alone: {problem}")
            else:
                named.append(entry)
        try:
            stored = self._stat(client, named)
        except Exception as exc:
            return outcome | {e: ("failed", f"could not list it ({exc}); left") for e in named}
        present = []
        for entry in named:
            info = stored.get(entry)
            problem = (
                None
                if info is None
                else object_problem(entry.path, self.run_id, info.get("created_at") or None)
            )
            if info is None:
                outcome[entry] = ("gone", "already gone")
            elif problem:
                outcome[entry] = ("foreign", f"not ours, left alone: {problem}")
            else:
                present.append(entry)
        if present:
            outcome |= self._remove_objects(client, present)
        return outcome

    def _stat(
        self, client: supabase.Client, objects: list[ObjectEntry]
    ) -> dict[ObjectEntry, _Stored]:
        """The stored object of each entry that exists (REST listing, else SQL)."""
        if not objects:
            return {}
        try:
            bucket = client.storage.from_(objects[0].bucket)
            listed: dict[str, dict[str, _Stored]] = {}
            for folder in dict.fromkeys(posixpath.dirname(e.path) for e in objects):
                listed[folder] = _listed(bucket, folder)
            return {
                e: listed[posixpath.dirname(e.path)][posixpath.basename(e.path)]
                for e in objects
                if posixpath.basename(e.path) in listed[posixpath.dirname(e.path)]
            }
        except Exception as rest_exc:
            db = self._connection()
            if db is None:
                raise RuntimeError(self._error(rest_exc)) from None
            found = {}
            for entry in objects:
                row = db.execute(
                    "select created_at from storage.objects where bucket_id = %s and name = %s",
                    (entry.bucket, entry.path),
                ).fetchone()
                if row is not None:
                    found[entry] = {"created_at": row[0]}
            return found

    def _remove_objects(
        self, client: supabase.Client, objects: list[ObjectEntry]
    ) -> dict[ObjectEntry, tuple[str, str]]:
        try:
            client.storage.from_(objects[0].bucket).remove([e.path for e in objects])
            left = self._stat(client, objects)
        except Exception:
            # One by one, each with its own SQL fallback and message.
            return {e: self._remove_object(client, e) for e in objects}
        return {
            e: ("failed", "still present after delete") if e in left else ("removed", "removed")
            for e in objects
        }

    def _remove_object(self, client: supabase.Client, entry: ObjectEntry) -> tuple[str, str]:
        try:
            client.storage.from_(entry.bucket).remove([entry.path])
        except Exception as rest_exc:
            db = self._connection()
            if db is None:
                detail = f"delete failed ({self._error(rest_exc)}); no database URL for a fallback"
                return "failed", detail
            try:
                db.execute(
                    "delete from storage.objects where bucket_id = %s and name = %s",
                    (entry.bucket, entry.path),
                )
            except Exception as sql_exc:
                detail = (
                    f"delete failed ({self._error(rest_exc)}); SQL fallback: {self._error(sql_exc)}"
                )
                return "failed", detail
        try:
            left = self._stat(client, [entry])
        except Exception as exc:
            return "failed", f"could not verify removal ({exc})"
        return ("failed", "still present after delete") if left else ("removed", "removed")

    # Database fallback ------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[tuple[Any, ...]] | None:
        if not self._db_tried:
            self._db_tried = True
            try:
                self._db = self._db_factory()
            except Exception as exc:
                self._log(f"cleanup on {self.target.name}: no db ({self._error(exc)})")
                self._db = None
        return self._db

    def _close_db(self) -> None:
        self._db_tried = False
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except Exception as exc:
                self._log(
                    f"cleanup on {self.target.name}: closing the database: {self._error(exc)}"
                )
