"""The reference Promorang API: the healthy behaviour of CONTRACT §3, plus the API-layer faults.

It talks to Supabase only over HTTP, through the gateway, with the service-role key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import math
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import jwtkeys
from .faults import FaultSet, UnknownFault
from .recorder import RequestRecorder

logger = logging.getLogger("promorang_sandbox.api")
BODY_LIMIT = 10 * 1024 * 1024
POSITIONS_TABLE = "content_share_positions"
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
DEMO_MEDIA = (
    "https://images.unsplash.com/photo-1522202176988-66273c2fd55f?w=1200&q=80",
    "https://images.unsplash.com/photo-1498050108023-c5249f4df085?w=1200&q=80",
    "https://images.unsplash.com/photo-1521737604893-d14cc237f11d?w=1200&q=80",
    "https://images.unsplash.com/photo-1519389950473-47ba0277781c?w=1200&q=80",
    "https://images.unsplash.com/photo-1504384308090-c894fdcc538d?w=1200&q=80",
    "https://images.unsplash.com/photo-1517694712202-14dd9538aa97?w=1200&q=80",
)
HELMET_HEADERS = (
    (
        "content-security-policy",
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
        "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
        "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=15552000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
)
CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"
ERROR_BODY = {"error": "Internal Server Error", "message": "Something went wrong"}
DEFAULT_AVATAR = "https://api.dicebear.com/7.x/avataaars/svg?seed="


@dataclass
class ApiConfig:
    """What the API needs to know; ``supabase_url`` is the public one (imageUrl)."""

    supabase_url: str
    service_role_key: str
    frontend_origin: str
    admin_token: str
    faults: FaultSet
    recorder: RequestRecorder
    gateway_url: str | None = None  # where the API reaches the gateway; default supabase_url
    bucket: str = "content-media"
    private_bucket: str = "content-media-private"
    upload_prefix: str = "uploads"
    timeout_s: float = 10.0
    platform_urls: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """A handler's early answer: status and body."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body)


def _fail(status: int, error: str, **extra: Any) -> ApiError:
    return ApiError(status, {"success": False, "error": error, **extra})


class PlatformMiddleware:
    """helmet() and cors() as the platform configures them, plus its error handler."""

    def __init__(self, app: ASGIApp, config: ApiConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        cors = "cors_missing" not in self.config.faults
        allowed = cors and origin is not None and origin == self.config.frontend_origin
        if scope["method"] == "OPTIONS" and not scope["path"].startswith("/__sandbox"):
            await self._preflight(headers, allowed, cors, send)
            return
        started = False

        async def send_wrapped(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                raw = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-powered-by"
                ]
                raw += [(k.encode(), v.encode()) for k, v in HELMET_HEADERS]
                if allowed:
                    raw += [
                        (b"access-control-allow-origin", str(origin).encode("latin-1")),
                        (b"vary", b"Origin"),
                        (b"access-control-allow-credentials", b"true"),
                    ]
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        except Exception:
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                return
            await JSONResponse(ERROR_BODY, status_code=500)(scope, receive, send_wrapped)

    async def _preflight(
        self, headers: Mapping[str, str], allowed: bool, cors: bool, send: Send
    ) -> None:
        raw: list[tuple[bytes, bytes]] = [(k.encode(), v.encode()) for k, v in HELMET_HEADERS]
        if not cors or not allowed:
            # cors() answers 204 even to foreign origins; without cors() Express answers 200.
            status, body = (204, b"") if cors else (200, b"GET,HEAD,POST")
            raw += [(b"vary", b"Origin")] if cors else [(b"allow", b"GET,HEAD,POST")]
            if body:
                raw.append((b"content-type", b"text/html; charset=utf-8"))
        else:
            status, body = 204, b""
            raw += [
                (b"access-control-allow-origin", headers["origin"].encode("latin-1")),
                (b"vary", b"Origin, Access-Control-Request-Headers"),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", CORS_METHODS.encode()),
            ]
            requested = headers.get("access-control-request-headers")
            if requested:
                raw.append((b"access-control-allow-headers", requested.encode("latin-1")))
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


# --- request helpers -------------------------------------------------------------------------


async def read_json(request: Request) -> Any:
    """express.json({limit:'10mb'}): {} unless JSON content type; 413 / 400 like the platform."""
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype.split(";")[0].lower():
        return {}
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > BODY_LIMIT:
        raise ApiError(413, ERROR_BODY)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            raise ApiError(413, ERROR_BODY)
        chunks.append(chunk)
    raw = b"".join(chunks)
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


def require_user(request: Request) -> dict[str, Any]:
    """The verified Supabase user claims, or 401 like requireAuth."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _fail(401, "Access token required", code="MISSING_TOKEN")
    try:
        claims = jwtkeys.verify(token.strip())
    except jwtkeys.InvalidToken:
        raise _fail(401, "Invalid or expired token", code="INVALID_TOKEN") from None
    sub = claims.get("sub")
    if claims.get("role") != "authenticated" or not isinstance(sub, str) or not UUID_RE.match(sub):
        raise _fail(401, "Invalid or expired token", code="INVALID_TOKEN")
    return dict(claims)


def lenient_b64decode(data: str) -> bytes:
    """Node's Buffer.from(s, 'base64'): skip invalid characters, stop at padding."""
    cleaned = re.sub(r"[^A-Za-z0-9+/\-_]", "", data.split("=", 1)[0])
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    cleaned = cleaned[: len(cleaned) - (len(cleaned) % 4 == 1)]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except binascii.Error:
        return b""


def safe_name(file_name: str | None) -> str:
    if not file_name or not file_name.strip():
        return f"content-{int(time.time() * 1000)}.jpg"
    name = re.sub(r"[^a-z0-9._-]", "-", file_name.strip().lower())
    return name if "." in name else name + ".jpg"


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


# --- the content object (CONTRACT §3.9) ------------------------------------------------------


def _num(value: Any, default: float = 0) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def share_price_of(row: Mapping[str, Any]) -> float:
    rate = row.get("engagement_rate")
    if rate is None:
        return 0.5
    return float(Decimal(str(rate)) * 10)


def engagement_rate_for(price: float) -> float:
    return round(price / 10, 4) if price > 0 else 0.05


def _int(value: Any) -> int:
    return int(_num(value))


class ContentBuilder:
    """Builds §3.9 objects; creator details are looked up once per creator."""

    def __init__(self, api: PromorangApi) -> None:
        self.api = api
        self.users: dict[str, dict[str, Any]] = {}

    async def build(self, row: Mapping[str, Any]) -> dict[str, Any]:
        creator_id = row.get("creator_id")
        user = await self._user(creator_id) if isinstance(creator_id, str) else {}
        cid = str(row.get("id"))
        shares = _int(row.get("shares"))
        engagements = _int(row.get("engagements"))
        media = row.get("media_url")
        valid_media = isinstance(media, str) and media.startswith(("http://", "https://"))
        posted = row.get("posted_at") or now_iso()
        metrics = {
            "impressions": _int(row.get("impressions")),
            "clicks": _int(row.get("clicks")),
            "conversions": _int(row.get("conversions")),
            "engagement_rate": _num(row.get("engagement_rate")),
        }
        platform_url = self.api.config.platform_urls.get(cid) or (
            media if valid_media else "https://promorang.com"
        )
        content: dict[str, Any] = {
            "id": cid,
            "creator_id": creator_id,
            "creator_username": user.get("username"),
            "creator_name": user.get("display_name")
            or user.get("username")
            or user.get("email")
            or "Promorang Creator",
            "creator_avatar": user.get("avatar_url") or DEFAULT_AVATAR + quote(str(creator_id)),
            "platform": row.get("platform") or "instagram",
            "platform_url": platform_url,
            "title": row.get("title") or "",
            "description": row.get("description"),
            "media_url": media if valid_media else demo_media(cid),
            "total_shares": shares,
            "available_shares": shares,
            "engagement_shares_total": shares,
            "engagement_shares_remaining": max(shares - engagements, 0),
            "share_price": share_price_of(row),
            "current_revenue": _num(row.get("current_revenue"), metrics["conversions"] * 5),
            "performance_metrics": json.dumps(metrics, separators=(",", ":")),
            "views_count": metrics["impressions"],
            "likes_count": round(0.6 * engagements),
            "comments_count": round(0.25 * engagements),
            "reposts_count": shares,
            "is_demo": False,
            "is_sponsored": row.get("status") == "sponsored",
            "created_at": row.get("created_at") or posted,
            "updated_at": row.get("updated_at") or posted,
        }
        if "contract_drift" in self.api.config.faults:
            content["availableShares"] = content.pop("available_shares")
        return content

    async def _user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            resp = await self.api.rest(
                "GET",
                "users",
                params={"id": f"eq.{user_id}", "select": "username,display_name,email,avatar_url"},
            )
            rows = resp.json() if resp.status_code == 200 else []
            self.users[user_id] = rows[0] if isinstance(rows, list) and rows else {}
        return self.users[user_id]


# --- validation ------------------------------------------------------------------------------


def _validate_create(body: dict[str, Any]) -> tuple[int, float]:
    """(shareCount, price) or a 400 ApiError."""
    if not (body.get("platform") and body.get("title") and body.get("platform_url")):
        raise _fail(400, "Platform, title, and platform_url are required")
    for key in ("platform", "title", "platform_url"):
        if not isinstance(body[key], str):
            raise _fail(400, f"{key} must be a string")
    for key in ("description", "media_url"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise _fail(400, f"{key} must be a string")
    return _shares_arg(body.get("total_shares"), 100), _price_arg(body.get("share_price"), 0.0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shares_arg(value: Any, default: int) -> int:
    if value is None:
        return default
    ok = _is_number(value) and float(value).is_integer() and 0 < value <= 1_000_000
    if not ok:
        raise _fail(400, "total_shares must be a positive integer up to 1000000")
    return int(value)


def _price_arg(value: Any, default: float) -> float:
    if value is None:
        return default
    if not (_is_number(value) and math.isfinite(value) and 0 <= value < 1000):
        raise _fail(400, "share_price must be a number from 0 to below 1000")
    return float(value)


# --- the app ---------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


class PromorangApi:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        base = (config.gateway_url or config.supabase_url).rstrip("/")
        key = config.service_role_key
        self.client = httpx.AsyncClient(
            base_url=base,
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 5.0)),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def rest(
        self,
        method: str,
        table: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        prefer: str | None = None,
    ) -> httpx.Response:
        headers = {"Prefer": prefer} if prefer else {}
        return await self.client.request(
            method, f"/rest/v1/{table}", params=params, json=json_body, headers=headers
        )

    # handlers -------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        faults = self.config.faults
        if "health_slow" in faults:
            await asyncio.sleep(10)
        if "health_down" in faults:
            return _json(503, {"status": "down"})
        return _json(200, {"status": "OK", "timestamp": now_iso(), "service": "promorang-api"})

    async def upload_image(self, request: Request) -> Response:
        body = fields_of(await read_json(request))
        claims = require_user(request)
        try:
            data, file_type, file_name = self._upload_args(body)
        except ApiError as exc:
            if "bad_input_500" in self.config.faults:
                raise _fail(500, "Failed to upload image") from None
            raise exc
        faults = self.config.faults
        if "upload_500" in faults:
            raise _fail(500, "Failed to upload image")
        if "upload_fallback" in faults:
            return self._fallback(file_name or file_type, "fetch failed")
        if "upload_slow" in faults:
            await asyncio.sleep(1.8)
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        name = f"{uuid.uuid4()}-{safe_name(file_name)}"
        key = f"{self.config.upload_prefix}/{claims['sub']}/{day}/{name}"
        private = "upload_private_url" in faults
        bucket = self.config.private_bucket if private else self.config.bucket
        try:
            resp = await self.client.post(
                f"/storage/v1/object/{bucket}/{key}",
                content=data,
                headers={"content-type": file_type, "x-upsert": "false", "cache-control": "3600"},
            )
        except (httpx.HTTPError, UnicodeEncodeError) as exc:
            # Like the platform: any failure of the storage call (a network error, or a
            # fileType that is no valid header value) is answered with a fallback, never a 5xx.
            reason = "fetch failed" if isinstance(exc, httpx.HTTPError) else "Invalid header value"
            return self._fallback(file_name or file_type, reason)
        if resp.status_code >= 400:
            return self._fallback(file_name or file_type, pg_message(resp, "Storage unavailable"))
        base = self.config.supabase_url.rstrip("/")
        url = f"{base}/storage/v1/object/public/{self.config.bucket}/{key}"
        return _json(201, {"success": True, "imageUrl": url})

    @staticmethod
    def _upload_args(body: dict[str, Any]) -> tuple[bytes, str, str | None]:
        file_type, file_data, file_name = (
            body.get("fileType"),
            body.get("fileData"),
            body.get("fileName"),
        )
        if not file_type or not file_data:
            raise _fail(400, "fileType and fileData are required")
        if not isinstance(file_data, str) or not isinstance(file_type, str):
            raise _fail(400, "Invalid base64 payload")
        if file_name is not None and not isinstance(file_name, str):
            raise _fail(400, "Invalid base64 payload")
        data = lenient_b64decode(file_data)
        if not data:
            raise _fail(400, "Empty file payload")
        return data, file_type, file_name

    def _fallback(self, seed: str, reason: str) -> Response:
        body = {"success": True, "imageUrl": demo_media(seed), "fallback": True}
        return _json(201, {**body, "fallbackReason": reason})

    async def create(self, request: Request) -> Response:
        body = fields_of(await read_json(request))
        claims = require_user(request)
        try:
            share_count, price = _validate_create(body)
        except ApiError as exc:
            if "bad_input_500" in self.config.faults:
                raise _fail(500, "Failed to create content") from None
            raise exc
        payload = {
            "creator_id": claims["sub"],
            "title": body["title"],
            "description": body.get("description"),
            "media_url": body.get("media_url"),
            "platform": body["platform"],
            "status": "published",
            "posted_at": now_iso(),
            "impressions": 0,
            "clicks": 0,
            "engagements": 0,
            "shares": share_count,
            "conversions": 0,
            "engagement_rate": engagement_rate_for(price),
        }
        try:
            resp = await self.rest(
                "POST", "content_items", json_body=payload, prefer="return=representation"
            )
            rows = resp.json() if resp.status_code in (200, 201) else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list) or not rows:
            raise _fail(500, "Failed to create content")
        row = rows[0]
        self.config.platform_urls[str(row["id"])] = body["platform_url"]
        minted = await self._mint(str(row["id"]), claims["sub"], share_count)
        return _json(
            201,
            {
                "success": True,
                "content": await ContentBuilder(self).build(row),
                "source": "content_items",
                "minted_shares": minted,
                "message": "Content created successfully",
            },
        )

    async def _mint(self, content_id: str, holder: str, shares: int) -> dict[str, Any]:
        faults = self.config.faults
        if "mint_skipped" in faults:
            return {"minted": False, "reason": "Invalid context for share minting"}
        owned = shares - 1 if "mint_wrong_shares" in faults else shares
        row = {
            "content_id": content_id,
            "holder_id": holder,
            "shares_owned": owned,
            "total_invested": 0,
        }
        rows = [row, row] if "mint_duplicated" in faults else [row]
        try:
            resp = await self.rest("POST", POSITIONS_TABLE, json_body=rows, prefer="return=minimal")
        except httpx.HTTPError:
            return {"minted": False, "reason": "unexpected_error"}
        if resp.status_code >= 400:
            return {"minted": False, "reason": pg_message(resp, "mint_failed")}
        return {"minted": True, "table": POSITIONS_TABLE}

    async def list_content(self, request: Request) -> Response:
        q = request.query_params
        page = _positive_int(q.get("page"), 1)
        limit = min(_positive_int(q.get("limit"), 20), 1000)
        params = {
            "select": "*",
            "order": "posted_at.desc",
            "offset": str((page - 1) * limit),
            "limit": str(limit),
        }
        if q.get("type"):
            params["platform"] = f"eq.{q['type']}"
        try:
            resp = await self.rest("GET", "content_items", params=params)
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list):
            raise _fail(500, "Failed to fetch content")
        builder = ContentBuilder(self)
        return _json(200, [await builder.build(r) for r in rows])

    async def get_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        if UUID_RE.match(ident):
            params = {"select": "*", "id": f"eq.{ident}"}
        elif ident.isdigit() and int(ident) > 0:
            offset = str(int(ident) - 1)
            params = {"select": "*", "order": "posted_at.desc", "offset": offset, "limit": "1"}
        else:
            raise _fail(400, "Invalid content identifier")
        try:
            resp = await self.rest("GET", "content_items", params=params)
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            raise _fail(500, "Failed to fetch content item") from None
        if not isinstance(rows, list) or not rows:
            raise _fail(404, "Content not found")
        return _json(200, {"success": True, "content": await ContentBuilder(self).build(rows[0])})

    async def update_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        body = fields_of(await read_json(request))
        require_user(request)
        if not UUID_RE.match(ident):
            raise _fail(400, "Invalid content identifier")
        changes = _update_fields(body)
        rows: Any
        if "update_not_persisted" in self.config.faults:
            rows = await self._select(ident)
            rows = [{**rows[0], **changes}] if rows else rows
        else:
            try:
                resp = await self.rest(
                    "PATCH",
                    "content_items",
                    params={"id": f"eq.{ident}"},
                    json_body=changes,
                    prefer="return=representation",
                )
                rows = resp.json() if resp.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                rows = None
            if rows is None:
                raise _fail(500, "Failed to update content")
        if not rows:
            raise _fail(404, "Content not found")
        return _json(
            200,
            {
                "success": True,
                "content": await ContentBuilder(self).build(rows[0]),
                "source": "content_items",
                "message": "Content updated successfully",
            },
        )

    async def _select(self, ident: str) -> list[dict[str, Any]]:
        try:
            resp = await self.rest("GET", "content_items", params={"id": f"eq.{ident}"})
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list):
            raise _fail(500, "Failed to fetch content item")
        return rows

    async def delete_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        require_user(request)
        if not UUID_RE.match(ident):
            raise _fail(400, "Invalid content identifier")
        ok = {"success": True, "message": f"Content {ident} deleted successfully"}
        if "delete_noop" in self.config.faults:
            return _json(200, ok)
        try:
            resp = await self.rest(
                "DELETE",
                "content_items",
                params={"id": f"eq.{ident}"},
                prefer="return=representation",
            )
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if rows is None:
            raise _fail(500, "Failed to delete content")
        if not rows:
            raise _fail(404, "Content not found")
        self.config.platform_urls.pop(ident, None)
        return _json(200, ok)

    # admin ----------------------------------------------------------------------------------

    def _admin(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not secrets.compare_digest(given.encode(), self.config.admin_token.encode()):
            raise ApiError(401, {"error": "admin token required"})

    async def admin_faults(self, request: Request) -> Response:
        self._admin(request)
        if request.method == "PUT":
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                raise ApiError(400, {"error": "body must be JSON"}) from None
            names = body.get("faults") if isinstance(body, dict) else None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ApiError(400, {"error": 'body must be {"faults": [names]}'})
            try:
                await asyncio.to_thread(self.config.faults.replace, names)
            except UnknownFault as exc:
                raise ApiError(400, {"error": str(exc)}) from None
        return _json(200, {"faults": list(self.config.faults.active)})

    async def admin_requests(self, request: Request) -> Response:
        self._admin(request)
        if request.method == "DELETE":
            self.config.recorder.clear()
            return _json(200, {"cleared": True})
        return _json(200, [r.as_json() for r in self.config.recorder.snapshot()])

    async def not_found(self, request: Request) -> Response:
        if request.url.path.startswith("/api"):
            body = {"error": "Not Found", "message": "The requested API endpoint does not exist"}
            return _json(404, body)
        return PlainTextResponse(f"Cannot {request.method} {request.url.path}", status_code=404)


def _positive_int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else default


def _update_fields(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in ("title", "description", "media_url", "platform", "status"):
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise _fail(400, f"{key} must be a string")
            if key in ("title", "platform", "status") and not value:
                raise _fail(400, f"{key} must not be empty")
            changes[key] = value
    if "total_shares" in body:
        changes["shares"] = _shares_arg(body["total_shares"], 100)
    if "share_price" in body:
        changes["engagement_rate"] = engagement_rate_for(_price_arg(body["share_price"], 0.0))
    if not changes:
        raise _fail(400, "No valid fields to update")
    return changes


def _guard(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.status, exc.body)

    return run


async def _error_handler(request: Request, exc: Exception) -> Response:
    return _json(500, ERROR_BODY)


def create_api_app(config: ApiConfig) -> tuple[ASGIApp, PromorangApi]:
    """The API as an ASGI app (platform middleware outermost) and its state (close it)."""
    from .growth import growth_routes  # growth.py imports this module

    api = PromorangApi(config)
    any_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes = [
        Route("/api/health", _guard(api.health), methods=["GET"]),
        Route("/api/content/upload-image", _guard(api.upload_image), methods=["POST"]),
        Route("/api/content", _guard(api.list_content), methods=["GET"]),
        Route("/api/content", _guard(api.create), methods=["POST"]),
        Route("/api/content/{ident}", _guard(api.get_content), methods=["GET"]),
        Route("/api/content/{ident}", _guard(api.update_content), methods=["PUT"]),
        Route("/api/content/{ident}", _guard(api.delete_content), methods=["DELETE"]),
        *growth_routes(api),
        Route("/__sandbox/faults", _guard(api.admin_faults), methods=["GET", "PUT"]),
        Route("/__sandbox/requests", _guard(api.admin_requests), methods=["GET", "DELETE"]),
        Route("/{path:path}", _guard(api.not_found), methods=any_method),
    ]
    app = Starlette(routes=routes, exception_handlers={Exception: _error_handler})
    return PlatformMiddleware(app, config), api
