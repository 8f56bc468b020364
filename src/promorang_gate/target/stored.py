"""Read-back of what a deployment really stored (the ``gate_stored`` fixture).

Read-back goes through psycopg when the environment has a database URL, otherwise through the
Supabase REST API with the service-role key, so a 200 that did not persist is caught either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CONTENT_VALUES", "POSITIONS_COLUMNS", "POSITIONS_TABLE", "StoredState"]

POSITIONS_TABLE = "content_share_positions"
# The content_items columns the Create form fills (the API stores share_price / 10 as the rate).
CONTENT_VALUES = ("title", "description", "platform", "media_url", "shares", "engagement_rate")
POSITIONS_COLUMNS = (
    "id",
    "content_id",
    "holder_id",
    "shares_owned",
    "total_invested",
    "average_price",
    "created_at",
    "updated_at",
)


class StoredState:
    """Reads what the deployment really stored: psycopg when available, else service-role REST."""

    def __init__(self, db: Any, supabase: Callable[[], Any]) -> None:
        self._db = db
        self._supabase = supabase

    @property
    def through(self) -> str:
        return "psycopg" if self._db is not None else "Supabase REST (service role)"

    def _sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._db.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def content_row(self, content_id: str) -> dict[str, Any] | None:
        if self._db is not None:
            rows = self._sql(
                "select id::text, title from public.content_items where id = %s", [content_id]
            )
            return {"id": rows[0][0], "title": rows[0][1]} if rows else None
        result = (
            self._supabase()
            .table("content_items")
            .select("id,title")
            .eq("id", content_id)
            .execute()
        )
        return result.data[0] if result.data else None

    def content_values(self, content_id: str) -> dict[str, Any] | None:
        """The stored values of ``CONTENT_VALUES`` of one item, or None when it is not stored."""
        if self._db is not None:
            columns = ", ".join(CONTENT_VALUES)
            rows = self._sql(
                f"select {columns} from public.content_items where id = %s", [content_id]
            )
            return dict(zip(CONTENT_VALUES, rows[0], strict=True)) if rows else None
        result = (
            self._supabase()
            .table("content_items")
            .select(",".join(CONTENT_VALUES))
            .eq("id", content_id)
            .execute()
        )
        return dict(result.data[0]) if result.data else None

    def positions(self, content_id: str) -> list[dict[str, Any]]:
        if self._db is not None:
            rows = self._sql(
                f"select holder_id::text, shares_owned from public.{POSITIONS_TABLE} "
                "where content_id = %s",
                [content_id],
            )
            return [{"holder_id": h, "shares_owned": float(s)} for h, s in rows]
        result = (
            self._supabase()
            .table(POSITIONS_TABLE)
            .select("holder_id,shares_owned")
            .eq("content_id", content_id)
            .execute()
        )
        return [
            {"holder_id": r["holder_id"], "shares_owned": float(r["shares_owned"])}
            for r in result.data
        ]

    def positions_columns(self) -> set[str]:
        """The columns of the positions table; raises when the table is absent."""
        if self._db is not None:
            rows = self._sql(
                "select column_name from information_schema.columns "
                "where table_schema = 'public' and table_name = %s",
                [POSITIONS_TABLE],
            )
            return {r[0] for r in rows}
        # PostgREST answers PGRST205 for a missing table and PGRST204/42703 for a missing column.
        self._supabase().table(POSITIONS_TABLE).select(",".join(POSITIONS_COLUMNS)).limit(
            1
        ).execute()
        return set(POSITIONS_COLUMNS)

    def recorded_migrations(self) -> set[str] | None:
        """Applied migration versions, or None when the history is not readable."""
        if self._db is None:
            return None
        rows = self._sql("select version from supabase_migrations.schema_migrations")
        return {r[0] for r in rows}
