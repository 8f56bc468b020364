"""What every route of the reference API shares: early answers, JSON bodies, small helpers."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

BODY_LIMIT = 10 * 1024 * 1024
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
ERROR_BODY = {"error": "Internal Server Error", "message": "Something went wrong"}
DEMO_MEDIA = (
    "https://images.unsplash.com/photo-1522202176988-66273c2fd55f?w=1200&q=80",
    "https://images.unsplash.com/photo-1498050108023-c5249f4df085?w=1200&q=80",
    "https://images.unsplash.com/photo-1521737604893-d14cc237f11d?w=1200&q=80",
    "https://images.unsplash.com/photo-1519389950473-47ba0277781c?w=1200&q=80",
    "https://images.unsplash.com/photo-1504384308090-c894fdcc538d?w=1200&q=80",
    "https://images.unsplash.com/photo-1517694712202-14dd9538aa97?w=1200&q=80",
)

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """A handler's early answer: status and body."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body)


def fail(status: int, error: str, **extra: Any) -> ApiError:
    return ApiError(status, {"success": False, "error": error, **extra})


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def guarded(handler: Handler) -> Handler:
    """An ``ApiError`` becomes its answer; the auth mode the request ran under is reported."""

    async def run(request: Request) -> Response:
        try:
            response = await handler(request)
        except ApiError as exc:
            response = json_response(exc.status, exc.body)
        mode = getattr(request.state, "auth_mode", None)
        if mode:
            response.headers["X-Auth-Mode"] = mode
        return response

    return run


async def read_json(request: Request) -> Any:
    """express.json({limit:'10mb'}): {} unless JSON content type; 413 / 400 like the platform."""
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype.split(";")[0].lower():
        return {}
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > BODY_LIMIT:
        raise ApiError(413, ERROR_BODY)
    raw = await read_body(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, ERROR_BODY) from None
    if not isinstance(body, dict | list):  # strict mode: objects and arrays only
        raise ApiError(400, ERROR_BODY)
    return body


def fields_of(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def demo_media(seed: str) -> str:
    digest = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
    return DEMO_MEDIA[int(digest[:8], 16) % len(DEMO_MEDIA)]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pg_message(resp: httpx.Response, default: str) -> str:
    try:
        body = resp.json()
    except ValueError:
        return default
    if isinstance(body, dict):
        msg = body.get("message") or body.get("error")
        if isinstance(msg, str) and msg:
            return msg
    return default


async def read_body(request: Request) -> bytes:
    """The request's raw body, refused (413) as soon as it passes ``BODY_LIMIT``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            raise ApiError(413, ERROR_BODY)
        chunks.append(chunk)
    return b"".join(chunks)
