"""The database connection of an environment without writes, read-only in a way a test cannot
turn off.

A session opened with ``default_transaction_read_only=on`` is switched back by one
``SET default_transaction_read_only = off``. Here every use is its own transaction: ``BEGIN
READ ONLY``, a first query that takes the snapshot (after it PostgreSQL refuses ``SET
TRANSACTION READ WRITE``), the caller's statement sent as a prepared statement (so it is exactly
one statement: no ``…; COMMIT; INSERT …``), then ``ROLLBACK``, which also undoes any ``SET`` it
made. The wrapper exposes only reading; its attributes cannot be changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["ReadOnlyConnection", "ReadOnlyCursor"]


class ReadOnlyCursor:
    """The rows of one statement run by :class:`ReadOnlyConnection` (a psycopg-like subset)."""

    def __init__(self, owner: ReadOnlyConnection) -> None:
        self._owner = owner
        self._cursor: psycopg.Cursor[tuple[Any, ...]] | None = None

    def execute(self, query: Any, params: Sequence[Any] | None = None) -> ReadOnlyCursor:
        self._cursor = self._owner._run(query, params)
        return self

    def _rows(self) -> psycopg.Cursor[tuple[Any, ...]]:
        if self._cursor is None:
            raise RuntimeError("no statement executed yet")
        return self._cursor

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows().fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows().fetchall()

    def fetchmany(self, size: int = 0) -> list[tuple[Any, ...]]:
        return self._rows().fetchmany(size)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows())

    @property
    def description(self) -> Any:
        return self._rows().description

    @property
    def rowcount(self) -> int:
        return self._rows().rowcount

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()

    def __enter__(self) -> ReadOnlyCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadOnlyConnection:
    """``execute``, ``cursor`` and ``close`` of a psycopg connection; every use read-only."""

    __slots__ = ("_conn", "_lock", "_name")
    _conn: psycopg.Connection[tuple[Any, ...]]
    _lock: threading.Lock
    _name: str

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], target_name: str) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_name", target_name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"the database connection of {self._name} is read-only: {name} cannot be changed"
        )

    def _run(self, query: Any, params: Sequence[Any] | None) -> psycopg.Cursor[tuple[Any, ...]]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN READ ONLY")
            try:
                conn.execute("SELECT 1")  # the snapshot: read-write can no longer be set
                cursor: psycopg.Cursor[tuple[Any, ...]] = conn.cursor()
                cursor.execute(query, params, prepare=True)  # prepared: one statement only
                return cursor
            finally:
                conn.execute("ROLLBACK")

    def execute(self, query: Any, params: Sequence[Any] | None = None) -> ReadOnlyCursor:
        return ReadOnlyCursor(self).execute(query, params)

    def cursor(self) -> ReadOnlyCursor:
        return ReadOnlyCursor(self)

    @property
    def closed(self) -> bool:
        return bool(self._conn.closed)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ReadOnlyConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
