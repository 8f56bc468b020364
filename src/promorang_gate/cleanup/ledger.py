"""Everything a test creates is registered here and removed at teardown, also when it failed.

Only what the run can prove it created is removed (``ownership.py``): before a delete the ledger
reads the stored row or object and checks this run's tag (a row's title or description, an
object's name or, where the API named the object itself, its stored bytes) and creation time.
A registered id or URL that fails the check is left alone and reported as a teardown error:
where the stored thing is provably other data (another run's tag, older than the run) the
deployment answered ids or URLs of other data; where it only carries no tag of this run, the
error says so, and that it was left alone.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promorang_gate.cleanup import tags
from promorang_gate.cleanup.ownership import NotOurs, object_problem, row_problem

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.target.environments import Target

__all__ = ["CleanupError", "CleanupLedger", "ObjectEntry", "RowEntry"]

_PAGE = 1000
_MAX_PAGES = 20
#: Rows of one table read (and verified gone) with one request, at most this many at a time.
_ROWS_PER_READ = 50


class CleanupError(Exception):
    """Some of what a test registered was not removed: it could not be, or it was not ours."""

    def __init__(
        self,
        target_name: str,
        failures: Sequence[str],
        foreign: Sequence[str] = (),
        untagged: Sequence[str] = (),
    ) -> None:
        self.failures = list(failures)
        self.foreign = list(foreign)
        #: Stored things that carry no tag of this run (whose, the gate cannot tell).
        self.untagged = list(untagged)
        parts = []
        if self.foreign:
            parts.append(
                f"{len(self.foreign)} registered thing(s) were not created by this run and were"
                " left alone (the deployment answered ids or URLs of other data)"
            )
        if self.untagged:
            parts.append(
                f"{len(self.untagged)} registered thing(s) do not carry this run's tag where"
                " they are stored and were left alone (this run cannot prove it created them)"
            )
        if self.failures:
            parts.append(f"{len(self.failures)} could not be removed")
        if self.foreign or self.untagged:
            head = f"cleanup on {target_name}: {'; '.join(parts)}"
        else:
            head = f"cleanup on {target_name} left {len(self.failures)} thing(s) behind"
        lines = "\n".join(f"  - {f}" for f in [*self.foreign, *self.untagged, *self.failures])
        super().__init__(f"{head}:\n{lines}")


@dataclass(frozen=True)
class RowEntry:
    table: str
    column: str
    value: str
    title_column: str = "title"
    #: A second column that may carry the tag where a case made the title invalid.
    description_column: str | None = None

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


def _columns(entry: RowEntry) -> list[str]:
    extra = [entry.description_column] if entry.description_column else []
    return [entry.title_column, *extra, "created_at"]


_NO_TAG = NotOurs("it carries no tag of this run", other_data=False)


def _not_ours(problem: NotOurs) -> tuple[str, str]:
    """The ledger's outcome for a stored thing that does not prove it is the run's."""
    if problem.other_data:
        return "foreign", f"not ours, left alone: {problem}"
    return "untagged", f"does not carry this run's tag, left alone: {problem}"


def _batches(entries: list[Entry]) -> list[list[Entry]]:
    """Consecutive objects of one bucket form a batch, and consecutive rows of one table and
    key (up to _ROWS_PER_READ); the order is kept."""
    batches: list[list[Entry]] = []
    for entry in entries:
        last = batches[-1] if batches else None
        if last is not None and _same_batch(last, entry):
            last.append(entry)
        else:
            batches.append([entry])
    return batches


def _same_batch(batch: list[Entry], entry: Entry) -> bool:
    last = batch[-1]
    if isinstance(entry, ObjectEntry):
        return isinstance(last, ObjectEntry) and last.bucket == entry.bucket
    return (
        isinstance(last, RowEntry)
        and len(batch) < _ROWS_PER_READ
        and (last.table, last.column, last.title_column, last.description_column)
        == (entry.table, entry.column, entry.title_column, entry.description_column)
    )


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
        """A ``content_items`` row (the tag in its title or its description). Its share
        positions go with it by FK cascade; deleting them by name would fail exactly when the
        positions migration is missing."""
        self.row("content_items", "id", content_id, description_column="description")

    def row(
        self,
        table: str,
        column: str,
        value: object,
        *,
        title_column: str = "title",
        description_column: str | None = None,
    ) -> None:
        """A row; removed only if its ``title_column`` (or ``description_column``) carries the
        run's tag (and it has a ``created_at`` after the run started)."""
        entry = RowEntry(table, column, str(value), title_column, description_column)
        with self._lock:
            self._entries.append(entry)

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
        found: dict[str, list[str]] = {"failed": [], "foreign": [], "untagged": []}
        try:
            client = self._supabase_factory()
            for batch in _batches(list(dict.fromkeys(entries))):
                for entry, (kind, detail) in self._process(client, batch).items():
                    line = self._redact(f"{entry}: {detail}")
                    if kind in found:
                        found[kind].append(line)
                    else:
                        self._log(f"cleanup on {self.target.name}: {line}")
        finally:
            self._close_db()
        if any(found.values()):
            raise CleanupError(
                self.target.name, found["failed"], found["foreign"], found["untagged"]
            )

    def _process(self, client: supabase.Client, batch: list[Entry]) -> dict[Entry, tuple[str, str]]:
        rows = [e for e in batch if isinstance(e, RowEntry)]
        if len(rows) == 1:
            return {rows[0]: self._row(client, rows[0])}
        if rows:
            return {entry: outcome for entry, outcome in self._rows(client, rows).items()}
        objects = self._objects(client, [e for e in batch if isinstance(e, ObjectEntry)])
        return {entry: outcome for entry, outcome in objects.items()}

    # Rows -------------------------------------------------------------------------------------
    def _row(self, client: supabase.Client, entry: RowEntry) -> tuple[str, str]:
        try:
            rows = self._read_rows(client, entry)
        except Exception as exc:
            return "failed", f"could not read the stored row to check it is ours ({exc}); left"
        return self._settle(client, entry, rows)

    def _rows(
        self, client: supabase.Client, batch: list[RowEntry]
    ) -> dict[RowEntry, tuple[str, str]]:
        """Rows of one table and key: read with one request and verified gone with one more,
        each checked and deleted on its own condition as when one by one. A read that fails
        (a value the filter cannot carry, a target without ``in``) leaves the batch to the
        one-by-one path, with its SQL fallbacks."""
        try:
            stored = self._read_many(client, batch)
        except Exception:
            return {entry: self._row(client, entry) for entry in batch}
        outcome = {e: self._settle(client, e, stored.get(e.value, []), verify=False) for e in batch}
        removed = [e for e, (kind, _) in outcome.items() if kind == "removed"]
        return outcome | self._verify_gone(client, removed)

    def _read_many(
        self, client: supabase.Client, batch: list[RowEntry]
    ) -> dict[str, list[_Stored]]:
        """The stored rows of each entry's value. Rows are matched back by their key's stored
        value: a row the filter returned for no entry (however the target read it) is none of
        the batch's."""
        key = batch[0].column
        columns = ",".join(dict.fromkeys([key, *_columns(batch[0])]))
        query = client.table(batch[0].table).select(columns)
        rows: Any = query.in_(key, [e.value for e in batch]).execute().data
        found: dict[str, list[_Stored]] = {}
        for row in rows:
            found.setdefault(str(row.get(key)), []).append(dict(row))
        return found

    def _verify_gone(
        self, client: supabase.Client, removed: list[RowEntry]
    ) -> dict[RowEntry, tuple[str, str]]:
        if not removed:
            return {}
        try:
            left = self._read_many(client, removed)
        except Exception:
            return self._verify_each(client, removed)
        return {e: ("failed", "still present after delete") for e in removed if left.get(e.value)}

    def _verify_each(
        self, client: supabase.Client, removed: list[RowEntry]
    ) -> dict[RowEntry, tuple[str, str]]:
        """One by one, each with its SQL fallback."""
        outcome: dict[RowEntry, tuple[str, str]] = {}
        for entry in removed:
            try:
                if self._read_rows(client, entry):
                    outcome[entry] = ("failed", "still present after delete")
            except Exception as exc:
                outcome[entry] = ("failed", f"could not verify removal ({exc})")
        return outcome

    def _settle(
        self, client: supabase.Client, entry: RowEntry, rows: list[_Stored], verify: bool = True
    ) -> tuple[str, str]:
        """The stored rows of ``entry`` checked to be this run's, then deleted."""
        if not rows:
            return "gone", "already gone"
        proofs: set[tuple[str, str]] = set()
        for row in rows:
            description = row.get(entry.description_column) if entry.description_column else None
            problem = row_problem(
                row.get(entry.title_column),
                row.get("created_at"),
                self.run_id,
                description=description,
            )
            if problem:
                return _not_ours(problem)
            proofs.add(self._proof(entry, row))
        failed = self._remove_rows(client, entry, proofs, verify)
        return ("failed", failed) if failed else ("removed", "removed")

    def _proof(self, entry: RowEntry, row: _Stored) -> tuple[str, str]:
        """The column carrying the run's tag and its stored value: the delete is conditional on
        it, so a row changed since it was checked survives."""
        title = row.get(entry.title_column)
        if isinstance(title, str) and tags.title_run_id(title) == self.run_id:
            return entry.title_column, title
        assert entry.description_column is not None  # row_problem accepted the description
        return entry.description_column, str(row[entry.description_column])

    def _read_rows(self, client: supabase.Client, entry: RowEntry) -> list[_Stored]:
        columns = ",".join(_columns(entry))
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

        columns = _columns(entry)
        query = sql.SQL("select {} from {} where {} = %s").format(
            sql.SQL(", ").join(
                sql.SQL("created_at") if c == "created_at" else sql.Identifier(c) for c in columns
            ),
            sql.Identifier(*entry.table.split(".")),
            sql.Identifier(entry.column),
        )
        rows = db.execute(query, (entry.value,)).fetchall()
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def _remove_rows(
        self,
        client: supabase.Client,
        entry: RowEntry,
        proofs: set[tuple[str, str]],
        verify: bool = True,
    ) -> str | None:
        """Delete the row(s) still carrying the checked tag (REST, then SQL) and verify (unless
        the caller verifies a batch at once)."""
        for column, value in proofs:
            try:
                query = client.table(entry.table).delete().eq(entry.column, entry.value)
                query.eq(column, value).execute()
            except Exception as rest_exc:
                db = self._connection()
                if db is None:
                    return (
                        f"delete failed ({self._error(rest_exc)}); no database URL for a fallback"
                    )
                try:
                    self._delete_row_sql(db, entry, column, value)
                except Exception as sql_exc:
                    return (
                        f"delete failed ({self._error(rest_exc)});"
                        f" SQL fallback: {self._error(sql_exc)}"
                    )
        if not verify:
            return None
        try:
            left = self._read_rows(client, entry)
        except Exception as exc:
            return f"could not verify removal ({exc})"
        return "still present after delete" if left else None

    @staticmethod
    def _delete_row_sql(
        db: psycopg.Connection[tuple[Any, ...]], entry: RowEntry, column: str, value: str
    ) -> None:
        from psycopg import sql

        query = sql.SQL("delete from {} where {} = %s and {} = %s").format(
            sql.Identifier(*entry.table.split(".")),
            sql.Identifier(entry.column),
            sql.Identifier(column),
        )
        db.execute(query, (entry.value, value))

    # Objects ----------------------------------------------------------------------------------
    def _objects(
        self, client: supabase.Client, objects: list[ObjectEntry]
    ) -> dict[ObjectEntry, tuple[str, str]]:
        """Objects of one bucket: checked by name (or, for a name without any run's tag, by the
        stored bytes), found with one listing per folder, removed in one request, verified with
        one more listing (an SLO sample leaves twenty)."""
        outcome: dict[ObjectEntry, tuple[str, str]] = {}
        checked = []
        for entry in objects:
            by_name = tags.object_run_id(entry.path)
            if by_name is not None and by_name != self.run_id:  # another run's name
                outcome[entry] = _not_ours(object_problem(entry.path, self.run_id) or _NO_TAG)
            else:
                checked.append(entry)
        try:
            stored = self._stat(client, checked)
        except Exception as exc:
            return outcome | {e: ("failed", f"could not list it ({exc}); left") for e in checked}
        present = []
        for entry in checked:
            info = stored.get(entry)
            if info is None:
                outcome[entry] = ("gone", "already gone")
                continue
            created_at = info.get("created_at") or None
            data = None if tags.object_run_id(entry.path) else self._bytes(client, entry)
            problem = object_problem(entry.path, self.run_id, created_at, data=data)
            if problem:
                outcome[entry] = _not_ours(problem)
            else:
                present.append(entry)
        if present:
            outcome |= self._remove_objects(client, present)
        return outcome

    def _bytes(self, client: supabase.Client, entry: ObjectEntry) -> bytes | None:
        """The stored object's bytes (the service role reads any bucket), or None."""
        try:
            data = client.storage.from_(entry.bucket).download(entry.path)
        except Exception as exc:
            self._log(
                f"cleanup on {self.target.name}: {entry}: its bytes could not be read"
                f" ({self._error(exc)})"
            )
            return None
        return data if isinstance(data, bytes) else None

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
