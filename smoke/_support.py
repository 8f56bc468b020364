"""What the smoke tests share: payloads, URL rules and read-back of the stored state.

Read-back goes through psycopg when the environment has a database URL, otherwise through the
Supabase REST API with the service-role key, so a 200 that did not persist is caught either way.
"""

from __future__ import annotations

import base64
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

POSITIONS_TABLE = "content_share_positions"
POSITIONS_MIGRATION = "202510290101"
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
# Migrations the Growth Hub launch checklist expects on every environment, oldest first.
EXPECTED_MIGRATIONS = ("202510270001", "202510270002", POSITIONS_MIGRATION)
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
LOCAL_ADDRESS = re.compile(
    r"(?:https?:)?//(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\])[:/\"'`]"
)


def png_bytes(marker: str) -> bytes:
    """A real 1x1 PNG whose tEXt chunk carries `marker`, so every upload's bytes are unique."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixel = zlib.compress(b"\x00\xff\x66\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00" + marker.encode())
        + chunk(b"IDAT", pixel)
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class UploadProbe:
    file_name: str
    data: bytes

    def payload(self) -> dict[str, str]:
        return {
            "fileName": self.file_name,
            "fileType": "image/png",
            "fileData": base64.b64encode(self.data).decode(),
        }


def new_upload(tag: str, purpose: str) -> UploadProbe:
    """An upload whose file name carries the run tag, so the janitor can find leftovers."""
    unique = uuid.uuid4().hex[:8]
    name = f"{tag}-{purpose}-{unique}.png"
    return UploadProbe(file_name=name, data=png_bytes(name))


def content_payload(run_id: str, title: str = "Smoke Test Content") -> dict[str, Any]:
    """The setup guide's smoke payload, tagged with the run id."""
    return {
        "platform": "instagram",
        "title": f"{title} [gate {run_id}]",
        "description": "Created by the promorang-gate smoke suite; removed at teardown.",
        "platform_url": "https://instagram.com/p/promorang-gate-smoke",
        "total_shares": 100,
        "share_price": 0.1,
    }


def public_object_prefix(supabase_url: str, bucket: str) -> str:
    return f"{supabase_url.rstrip('/')}/storage/v1/object/public/{bucket}/"


def object_path_of(image_url: str, supabase_url: str, bucket: str) -> str | None:
    """The object key inside the bucket, or None when the URL is not a public object URL."""
    prefix = public_object_prefix(supabase_url, bucket)
    return image_url[len(prefix) :] if image_url.startswith(prefix) else None


def same_host(url: str, other: str) -> bool:
    return urlsplit(url).netloc.lower() == urlsplit(other).netloc.lower()


def local_addresses(text: str, allowed: Sequence[str]) -> list[str]:
    """Loopback addresses in `text` other than the allowed base URLs."""
    for base in allowed:
        text = text.replace(base.rstrip("/"), "")
    return sorted({m.group(0) for m in LOCAL_ADDRESS.finditer(text)})


def module_script_src(html: str) -> str | None:
    match = re.search(r"<script[^>]*type=[\"']module[\"'][^>]*src=[\"']([^\"']+)[\"']", html)
    if match is None:
        match = re.search(r"<script[^>]*src=[\"']([^\"']+)[\"'][^>]*type=[\"']module[\"']", html)
    return match.group(1) if match else None


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


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
