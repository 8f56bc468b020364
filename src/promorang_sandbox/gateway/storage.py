"""``/storage/v1``: the Storage API subset the clients use.

As in the real server, permission checks run under the caller's role (grants and RLS on
``storage.objects`` / ``storage.buckets`` decide), while bucket lookups, public reads and the
final write of an upload run as the connection's owner. Object bytes live in
``storage.object_data``, which the API roles cannot reach.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import pgerrors as pe
from .auth import Auth, authenticate, set_scope

Handler = Callable[[Request], Awaitable[Response]]
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_BUCKET_JSON = """json_build_object(
  'id', b.id, 'name', b.name, 'owner', coalesce(b.owner::text, ''), 'public', b.public,
  'type', 'STANDARD', 'created_at', b.created_at, 'updated_at', b.updated_at,
  'file_size_limit', b.file_size_limit, 'allowed_mime_types', b.allowed_mime_types)"""
_OBJECT_JSON = """json_build_object(
  'name', o.name, 'bucket_id', o.bucket_id, 'owner', coalesce(o.owner::text, ''),
  'owner_id', coalesce(o.owner_id, ''), 'version', o.version, 'id', o.id,
  'updated_at', o.updated_at, 'created_at', o.created_at, 'last_accessed_at', o.last_accessed_at,
  'metadata', o.metadata, 'user_metadata', o.user_metadata)"""


class StorageFailure(Exception):
    def __init__(self, err: pe.StorageErr) -> None:
        super().__init__(err[3])
        self.err = err


def error_response(err: pe.StorageErr) -> Response:
    status_code, code, error, message = err
    body = {"statusCode": status_code, "code": code, "error": error, "message": message}
    return JSONResponse(body, status_code=500 if status_code.startswith("5") else 400)


def _auth(request: Request, *, allow_invalid: bool = False) -> Auth:
    auth = authenticate(request.headers)
    if auth.error is not None:
        if allow_invalid:
            return auth.as_anon()
        raise StorageFailure(pe.access_denied(str(auth.error)))
    return auth


def guarded(handler: Handler) -> Handler:
    """Turn StorageFailure and Postgres errors into Storage API error replies."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except StorageFailure as exc:
            return error_response(exc.err)
        except psycopg.Error as exc:
            if exc.sqlstate is None:
                raise
            return error_response(pe.storage_error(exc))

    return run


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    async with pool.connection() as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def as_caller(
    conn: AsyncConnection[Any], request: Request, auth: Auth, operation: str, *, keep: bool = False
) -> AsyncIterator[None]:
    """A savepoint under the caller's role; rolled back (role included) unless ``keep``."""
    async with conn.transaction(force_rollback=not keep):
        await set_scope(
            conn,
            auth,
            method=request.method,
            path=request.url.path,
            headers=request.headers,
            extra={"storage.operation": operation, "storage.allow_delete_query": "true"},
        )
        yield


async def _fetch_text(conn: AsyncConnection[Any], query: str, params: Any = ()) -> str | None:
    row = await (await conn.execute(query.encode(), params)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _path(request: Request) -> tuple[str, str]:
    bucket = request.path_params["bucket"]
    name = request.path_params.get("path", "")
    if not name or any(part in ("", ".", "..") for part in name.split("/")):
        raise StorageFailure(("400", "InvalidKey", "InvalidKey", f"Invalid key: {name}"))
    return bucket, name


# -- buckets --------------------------------------------------------------------------------------


@guarded
async def list_buckets(request: Request) -> Response:
    auth = _auth(request)
    async with transaction(request) as conn, as_caller(conn, request, auth, "storage.bucket.list"):
        text = await _fetch_text(
            conn,
            f"select coalesce(json_agg({_BUCKET_JSON} order by b.name), '[]')::text"
            " from storage.buckets b",
        )
    return Response(text or "[]", media_type="application/json")


@guarded
async def get_bucket(request: Request) -> Response:
    auth = _auth(request)
    async with transaction(request) as conn, as_caller(conn, request, auth, "storage.bucket.get"):
        text = await _fetch_text(
            conn,
            f"select {_BUCKET_JSON}::text from storage.buckets b where b.id = %s",
            (request.path_params["bucket"],),
        )
    if text is None:
        raise StorageFailure(pe.NO_SUCH_BUCKET)
    obj = json.loads(text)
    obj.pop("type", None)
    return JSONResponse(obj)


def _size_limit(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise StorageFailure(pe.invalid_request("file_size_limit must be a number or a size"))
    if isinstance(value, int | float):
        return int(value)
    match = _SIZE_RE.match(str(value))
    if not match:
        raise StorageFailure(pe.invalid_request(f"invalid file_size_limit {value!r}"))
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "B").upper()])


def _owner(auth: Auth) -> tuple[str | None, str | None]:
    sub = auth.sub
    if not sub:
        return None, None
    try:
        return str(uuid.UUID(sub)), sub
    except ValueError:
        return None, sub


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise StorageFailure(pe.invalid_request("body must be JSON")) from None
    if not isinstance(body, dict):
        raise StorageFailure(pe.invalid_request("body must be a JSON object"))
    return body


@guarded
async def create_bucket(request: Request) -> Response:
    auth = _auth(request)
    body = await _json(request)
    name = body.get("name") or body.get("id")
    if not isinstance(name, str) or not name:
        raise StorageFailure(pe.invalid_request("body must have required property 'name'"))
    bucket_id = body.get("id") or name
    mimes = body.get("allowed_mime_types")
    if mimes is not None:
        mimes = [str(m) for m in mimes if m]
    owner, owner_id = _owner(auth)
    try:
        async with (
            transaction(request) as conn,
            as_caller(conn, request, auth, "storage.bucket.create", keep=True),
        ):
            await conn.execute(
                "insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit,"
                " allowed_mime_types) values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    bucket_id,
                    name,
                    owner,
                    owner_id,
                    bool(body.get("public", False)),
                    _size_limit(body.get("file_size_limit")),
                    mimes,
                ),
            )
    except psycopg.Error as exc:
        raise StorageFailure(pe.storage_error(exc, duplicate=pe.BUCKET_EXISTS)) from None
    return JSONResponse({"name": name})


@guarded
async def update_bucket(request: Request) -> Response:
    auth = _auth(request)
    body = await _json(request)
    async with (
        transaction(request) as conn,
        as_caller(conn, request, auth, "storage.bucket.update", keep=True),
    ):
        cur = await conn.execute(
            "update storage.buckets set public = coalesce(%s, public), file_size_limit = %s,"
            " allowed_mime_types = %s, updated_at = now() where id = %s",
            (
                body.get("public"),
                _size_limit(body.get("file_size_limit")),
                body.get("allowed_mime_types"),
                request.path_params["bucket"],
            ),
        )
        if cur.rowcount == 0:
            raise StorageFailure(pe.NO_SUCH_BUCKET)
    return JSONResponse({"message": "Successfully updated"})


@guarded
async def empty_bucket(request: Request) -> Response:
    auth = _auth(request)
    async with (
        transaction(request) as conn,
        as_caller(conn, request, auth, "storage.bucket.empty", keep=True),
    ):
        await conn.execute(
            "delete from storage.objects where bucket_id = %s", (request.path_params["bucket"],)
        )
    return JSONResponse({"message": "Successfully emptied"})


@guarded
async def delete_bucket(request: Request) -> Response:
    auth = _auth(request)
    bucket = request.path_params["bucket"]
    async with transaction(request) as conn:
        used = await _fetch_text(
            conn, "select 1 from storage.objects where bucket_id = %s limit 1", (bucket,)
        )
        if used is not None:
            raise StorageFailure(
                (
                    "409",
                    "InvalidRequest",
                    "InvalidRequest",
                    "The bucket you tried to delete is not empty",
                )
            )
        async with as_caller(conn, request, auth, "storage.bucket.delete", keep=True):
            cur = await conn.execute("delete from storage.buckets where id = %s", (bucket,))
        if cur.rowcount == 0:
            raise StorageFailure(pe.NO_SUCH_BUCKET)
    return JSONResponse({"message": "Successfully deleted"})


# -- objects --------------------------------------------------------------------------------------


@dataclass
class Upload:
    data: bytes
    mimetype: str
    cache_control: str
    user_metadata: Any = None


async def read_upload(request: Request) -> Upload:
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        form = await request.form()
        file: UploadFile | None = None
        fields: dict[str, str] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                file = file or value
            else:
                fields[key] = value
        if file is None:
            raise StorageFailure(pe.invalid_request("No content provided"))
        data = await file.read()
        mimetype = fields.get("contentType") or file.content_type or "text/plain;charset=UTF-8"
        cache = fields.get("cacheControl")
        meta = fields.get("metadata") or fields.get("userMetadata")
        return Upload(
            data,
            mimetype,
            f"max-age={cache}" if cache else "no-cache",
            _loads(meta) if meta else None,
        )
    data = await request.body()
    header_meta = request.headers.get("x-metadata")
    meta = None
    if header_meta:
        try:
            meta = _loads(base64.b64decode(header_meta).decode())
        except (binascii.Error, UnicodeDecodeError):
            raise StorageFailure(pe.invalid_request("x-metadata is not base64 JSON")) from None
    return Upload(
        data,
        content_type or "application/octet-stream",
        request.headers.get("cache-control") or "no-cache",
        meta,
    )


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise StorageFailure(pe.invalid_request("metadata is not JSON")) from None


def _mime_allowed(mimetype: str, allowed: list[str] | None) -> bool:
    if not allowed:
        return True
    base = mimetype.split(";")[0].strip().lower()
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == base or (pattern.endswith("/*") and base.startswith(pattern[:-1])):
            return True
    return False


def _metadata(upload: Upload, now: datetime) -> dict[str, Any]:
    return {
        "eTag": f'"{hashlib.md5(upload.data).hexdigest()}"',
        "size": len(upload.data),
        "mimetype": upload.mimetype,
        "cacheControl": upload.cache_control,
        "lastModified": now.isoformat().replace("+00:00", "Z"),
        "contentLength": len(upload.data),
        "httpStatusCode": 200,
    }


_INSERT_OBJECT = (
    "insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata,"
    " version) values (%s, %s, %s, %s, %s, %s, %s)"
)
_UPSERT_TAIL = (
    " on conflict (name, bucket_id) do update set owner = excluded.owner,"
    " owner_id = excluded.owner_id, metadata = excluded.metadata,"
    " user_metadata = excluded.user_metadata, version = excluded.version,"
    " last_accessed_at = now()"
)


async def _upload(request: Request, *, upsert: bool) -> Response:
    auth = _auth(request)
    bucket, name = _path(request)
    upload = await read_upload(request)
    now = datetime.now(UTC)
    owner, owner_id = _owner(auth)
    metadata = json.dumps(_metadata(upload, now))
    user_meta = None if upload.user_metadata is None else json.dumps(upload.user_metadata)
    params = (bucket, name, owner, owner_id, metadata, user_meta, str(uuid.uuid4()))
    insert = _INSERT_OBJECT + (_UPSERT_TAIL if upsert else "")
    async with transaction(request) as conn:
        # The bucket lookup runs as the owner, like the real server's superuser step.
        cur = await conn.execute(
            "select file_size_limit, allowed_mime_types from storage.buckets where id = %s",
            (bucket,),
        )
        row = await cur.fetchone()
        if row is None:
            raise StorageFailure(pe.NO_SUCH_BUCKET)
        limit, allowed = row
        if limit is not None and len(upload.data) > limit:
            raise StorageFailure(pe.TOO_LARGE)
        if not _mime_allowed(upload.mimetype, allowed):
            raise StorageFailure(
                (
                    "415",
                    "InvalidMimeType",
                    "invalid_mime_type",
                    f"mime type {upload.mimetype} is not supported",
                )
            )
        try:
            async with as_caller(conn, request, auth, "storage.object.upload"):
                await conn.execute(insert.encode(), params)  # trial, rolled back
            cur = await conn.execute((insert + " returning id").encode(), params)
        except psycopg.Error as exc:
            raise StorageFailure(pe.storage_error(exc, duplicate=pe.KEY_EXISTS)) from None
        id_row = await cur.fetchone()
        assert id_row is not None
        await conn.execute(
            "insert into storage.object_data (object_id, data) values (%s, %s)"
            " on conflict (object_id) do update set data = excluded.data",
            (id_row[0], upload.data),
        )
    return JSONResponse({"Id": str(id_row[0]), "Key": f"{bucket}/{name}"})


@guarded
async def upload_object(request: Request) -> Response:
    return await _upload(request, upsert=request.headers.get("x-upsert", "") == "true")


@guarded
async def update_object(request: Request) -> Response:
    return await _upload(request, upsert=True)


async def _download(
    request: Request, auth: Auth, *, fell_back: bool, public_only: bool
) -> Response:
    bucket, name = _path(request)
    async with transaction(request) as conn:
        cur = await conn.execute("select public from storage.buckets where id = %s", (bucket,))
        row = await cur.fetchone()
        if row is None or ((public_only or fell_back) and not row[0]):
            raise StorageFailure(pe.NO_SUCH_BUCKET)
        find = (
            "select id, metadata, updated_at from storage.objects"
            " where bucket_id = %s and name = %s"
        )
        if row[0]:
            found = await (await conn.execute(find, (bucket, name))).fetchone()
        else:
            async with as_caller(conn, request, auth, "storage.object.get_authenticated"):
                found = await (await conn.execute(find, (bucket, name))).fetchone()
        if found is None:
            raise StorageFailure(pe.NO_SUCH_KEY)
        object_id, metadata, updated_at = found
        data_row = await (
            await conn.execute(
                "select data from storage.object_data where object_id = %s", (object_id,)
            )
        ).fetchone()
    data = bytes(data_row[0]) if data_row is not None else b""
    metadata = metadata or {}
    headers = {
        "ETag": str(metadata.get("eTag", "")),
        "Cache-Control": str(metadata.get("cacheControl", "no-cache")),
        "Last-Modified": format_datetime(updated_at.astimezone(UTC), usegmt=True),
        "Accept-Ranges": "bytes",
    }
    if "download" in request.query_params:
        filename = request.query_params["download"] or name.rsplit("/", 1)[-1]
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Set as stored: Starlette would append a charset to text/* media types.
    headers["Content-Type"] = str(metadata.get("mimetype") or "application/octet-stream")
    body = b"" if request.method == "HEAD" else data
    response = Response(body, headers=headers)
    response.headers["Content-Length"] = str(len(data))
    return response


@guarded
async def get_object(request: Request) -> Response:
    auth = authenticate(request.headers)
    fell_back = auth.error is not None
    return await _download(
        request, auth.as_anon() if fell_back else auth, fell_back=fell_back, public_only=False
    )


@guarded
async def get_authenticated_object(request: Request) -> Response:
    return await _download(request, _auth(request), fell_back=False, public_only=False)


@guarded
async def get_public_object(request: Request) -> Response:
    anon = Auth(role="anon", claims={"role": "anon"})
    return await _download(request, anon, fell_back=False, public_only=True)


@guarded
async def delete_objects(request: Request) -> Response:
    auth = _auth(request)
    body = await _json(request)
    prefixes = body.get("prefixes")
    if not isinstance(prefixes, list) or not prefixes:
        raise StorageFailure(pe.invalid_request("body/prefixes must NOT have fewer than 1 items"))
    async with (
        transaction(request) as conn,
        as_caller(conn, request, auth, "storage.object.delete_many", keep=True),
    ):
        text = await _fetch_text(
            conn,
            f"with o as (delete from storage.objects where bucket_id = %s and name = any(%s)"
            f" returning *) select coalesce(json_agg({_OBJECT_JSON}), '[]')::text from o",
            (request.path_params["bucket"], [str(p) for p in prefixes]),
        )
    return Response(text or "[]", media_type="application/json")


@guarded
async def delete_object(request: Request) -> Response:
    auth = _auth(request)
    bucket, name = _path(request)
    async with (
        transaction(request) as conn,
        as_caller(conn, request, auth, "storage.object.delete", keep=True),
    ):
        cur = await conn.execute(
            "delete from storage.objects where bucket_id = %s and name = %s", (bucket, name)
        )
        if cur.rowcount == 0:
            raise StorageFailure(pe.NO_SUCH_KEY)
    return JSONResponse({"message": "Successfully deleted"})


_SORT_COLUMNS = {"name", "updated_at", "created_at", "last_accessed_at"}


@guarded
async def list_objects(request: Request) -> Response:
    auth = _auth(request)
    body = await _json(request)
    prefix = str(body.get("prefix") or "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    prefix = prefix.lstrip("/")
    search = str(body.get("search") or "")
    limit = min(int(body.get("limit") or 100), 1500)
    offset = int(body.get("offset") or 0)
    sort = body.get("sortBy") or {}
    column = sort.get("column", "name") if isinstance(sort, dict) else "name"
    column = column if column in _SORT_COLUMNS else "name"
    descending = isinstance(sort, dict) and str(sort.get("order", "asc")).lower() == "desc"
    pattern = _like_escape(prefix.lower() + search.lower()) + "%"
    async with (
        transaction(request) as conn,
        as_caller(conn, request, auth, "storage.object.list"),
    ):
        cur = await conn.execute(
            "select json_build_object('name', o.name, 'id', o.id, 'updated_at', o.updated_at,"
            " 'created_at', o.created_at, 'last_accessed_at', o.last_accessed_at,"
            " 'metadata', o.metadata)::text from storage.objects o"
            " where o.bucket_id = %s and lower(o.name) like %s",
            (request.path_params["bucket"], pattern),
        )
        rows = [json.loads(r[0]) for r in await cur.fetchall()]
    entries = _one_level(rows, len(prefix))
    folders = [e for e in entries if e["id"] is None]
    files = [e for e in entries if e["id"] is not None]
    if column == "name":
        ordered = sorted(entries, key=lambda e: e["name"].lower(), reverse=descending)
    else:
        folders.sort(key=lambda e: e["name"].lower())
        files.sort(key=lambda e: e[column] or "", reverse=descending)
        ordered = folders + files
    return JSONResponse(ordered[offset : offset + limit])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _one_level(rows: list[dict[str, Any]], cut: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        rest = row["name"][cut:]
        head, sep, _ = rest.partition("/")
        if sep:
            if head not in seen:
                seen.add(head)
                entries.append(
                    {
                        "name": head,
                        "id": None,
                        "updated_at": None,
                        "created_at": None,
                        "last_accessed_at": None,
                        "metadata": None,
                    }
                )
        else:
            entries.append({**row, "name": rest})
    return entries
