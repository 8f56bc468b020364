"""Removes leftovers of earlier gate runs, recognised only by their run-id tag."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from promorang_gate.http import GateHttp
from promorang_gate.redaction import Redactor

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.environments import Target

__all__ = ["PROBE_PREFIX", "RUN_ID_RE", "parse_run_id", "run_janitor"]

RUN_ID_RE = re.compile(r"gr(\d{8})t(\d{6})-([0-9a-f]{6})")
_TITLE_TAG = re.compile(r"\[gate (gr\d{8}t\d{6}-[0-9a-f]{6})\]")
_OBJECT_TAG = re.compile(r"gate-(gr\d{8}t\d{6}-[0-9a-f]{6})")
PROBE_PREFIX = "gate-probes"
_PAGE = 1000
_MAX_DEPTH = 8


def parse_run_id(text: str) -> tuple[str, dt.datetime] | None:
    """The first run id in ``text`` and the UTC time it encodes, or None."""
    for match in RUN_ID_RE.finditer(text):
        try:
            created = dt.datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
        except ValueError:
            continue
        return match.group(0), created.replace(tzinfo=dt.UTC)
    return None


def _tagged(pattern: re.Pattern[str], text: str) -> tuple[str, dt.datetime] | None:
    match = pattern.search(text)
    return parse_run_id(match.group(1)) if match else None


def _age(created: dt.datetime, now: dt.datetime) -> str:
    hours = (now - created).total_seconds() / 3600
    return f"{hours:.1f}h old"


def _stale_content(
    client: supabase.Client, cutoff: dt.datetime
) -> Iterator[tuple[str, str, tuple[str, dt.datetime]]]:
    offset = 0
    while True:
        query = client.table("content_items").select("id,title").like("title", "%[gate gr%")
        rows: list[Any] = query.order("id").range(offset, offset + _PAGE - 1).execute().data
        for row in rows:
            tag = _tagged(_TITLE_TAG, str(row.get("title") or ""))
            if tag and tag[1] < cutoff:
                yield str(row["id"]), str(row.get("title")), tag
        if len(rows) < _PAGE:
            return
        offset += _PAGE


def _walk(bucket: Any, prefix: str, depth: int = 0) -> Iterator[str]:
    """Every object name under ``prefix`` (recursively; folders have no id)."""
    offset = 0
    while True:
        entries: list[dict[str, Any]] = bucket.list(prefix, {"limit": _PAGE, "offset": offset})
        for entry in entries:
            name = f"{prefix}/{entry['name']}" if prefix else str(entry["name"])
            if entry.get("id") is None:
                if depth < _MAX_DEPTH:
                    yield from _walk(bucket, name, depth + 1)
            else:
                yield name
        if len(entries) < _PAGE:
            return
        offset += _PAGE


def _remove_object(
    client: supabase.Client, get_db: Callable[[], Any], bucket: str, name: str
) -> None:
    try:
        client.storage.from_(bucket).remove([name])
    except Exception:
        db = get_db()
        if db is None:
            raise
        db.execute("delete from storage.objects where bucket_id = %s and name = %s", (bucket, name))


def _remove_content(client: supabase.Client, content_id: str) -> None:
    client.table("content_share_positions").delete().eq("content_id", content_id).execute()
    client.table("content_items").delete().eq("id", content_id).execute()


def run_janitor(
    target: Target,
    older_than_s: float,
    out: TextIO,
    *,
    client: supabase.Client | None = None,
    db_factory: Callable[[], psycopg.Connection[tuple[Any, ...]] | None] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Delete tagged content and objects older than ``older_than_s``.

    Returns 0 when all went, 1 when something could not be removed, 2 when refused.
    """
    if not target.writes_allowed:
        out.write(
            f"janitor: refused: writes are not allowed on {target.name}; "
            f"set GATE_{target.name.upper()}_WRITES_ALLOWED=true for an env that allows them\n"
        )
        return 2
    redactor = Redactor([target.service_role_key, target.database_url or ""])
    http: GateHttp | None = None
    if client is None:
        from promorang_gate.supabase_access import make_supabase

        http = GateHttp(target.name, None, target.request_timeout_s, True, redactor, attach=False)
        client = make_supabase(target, http.client)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=older_than_s)
    stamp = now or dt.datetime.now(dt.UTC)
    removed = failed = 0
    dbs: list[Any] = []

    def get_db() -> Any:
        if not dbs:
            dbs.append(db_factory() if db_factory is not None else None)
        return dbs[0]

    try:
        for content_id, title, (run_id, created) in list(_stale_content(client, cutoff)):
            try:
                _remove_content(client, content_id)
            except Exception as exc:
                failed += 1
                out.write(redactor.redact(f"FAILED content_items {content_id}: {exc}") + "\n")
                continue
            removed += 1
            out.write(
                f"removed content_items {content_id} {title!r} ({run_id}, {_age(created, stamp)})\n"
            )
        bucket = client.storage.from_(target.bucket)
        names: set[str] = set()
        for prefix in dict.fromkeys((target.upload_prefix.strip("/"), PROBE_PREFIX)):
            names.update(_walk(bucket, prefix))
        for name in sorted(names):
            tag = _tagged(_OBJECT_TAG, name)
            if tag is None or tag[1] >= cutoff:
                continue
            try:
                _remove_object(client, get_db, target.bucket, name)
            except Exception as exc:
                failed += 1
                out.write(redactor.redact(f"FAILED object {target.bucket}/{name}: {exc}") + "\n")
                continue
            removed += 1
            out.write(f"removed object {target.bucket}/{name} ({tag[0]}, {_age(tag[1], stamp)})\n")
    finally:
        if dbs and dbs[0] is not None:
            dbs[0].close()
        if http is not None:
            http.close()
    out.write(f"janitor: {target.name}: removed {removed}, failed {failed}\n")
    return 1 if failed else 0
