"""The content routes (CONTRACT §3.4-§3.9): create (with the initial mint), list, get, update
and delete, the content object, and their faults."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api_common import (
    UUID_RE,
    ApiError,
    demo_media,
    fail,
    fields_of,
    guarded,
    json_response,
    now_iso,
    pg_message,
    read_json,
)
from .auth import authenticate
from .mock import MockMode, or_mock

if TYPE_CHECKING:
    from .api_state import PromorangApi

__all__ = ["ContentBuilder", "ContentRoutes"]

POSITIONS_TABLE = "content_share_positions"
DEFAULT_AVATAR = "https://api.dicebear.com/7.x/avataaars/svg?seed="


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
    # numeric(6, 4) holds at most 99.9999: the exact price is kept beside the row.
    return min(round(price / 10, 4), 99.9999) if price > 0 else 0.05


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
        config = self.api.config
        posted = row.get("posted_at") or now_iso()
        metrics = {
            "impressions": _int(row.get("impressions")),
            "clicks": _int(row.get("clicks")),
            "conversions": _int(row.get("conversions")),
            "engagement_rate": _num(row.get("engagement_rate")),
        }
        # Without the written value the platform reads back media_url or its home page.
        platform_url = config.platform_urls.get(cid) or (
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
            "media_url": media if isinstance(media, str) else demo_media(cid),
            "total_shares": shares,
            "available_shares": shares,
            "engagement_shares_total": shares,
            "engagement_shares_remaining": max(shares - engagements, 0),
            "share_price": self._price(cid, row),
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

    def _price(self, cid: str, row: Mapping[str, Any]) -> float:
        config = self.api.config
        if cid in config.share_prices:
            return config.share_prices[cid]
        if "roundtrip_price" in config.faults:  # the platform's read-back: 0.1 becomes 0.5
            return round(max(_num(row.get("engagement_rate")), 0.05) * 10, 2)
        return share_price_of(row)

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


def _validate_create(body: dict[str, Any]) -> dict[str, Any]:
    """The create's fields, checked, or a 400 ApiError."""
    if not (body.get("platform") and body.get("title") and body.get("platform_url")):
        raise fail(400, "Platform, title, and platform_url are required")
    for key in ("platform", "title", "platform_url"):
        if not isinstance(body[key], str):
            raise fail(400, f"{key} must be a string")
    for key in ("description", "media_url"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise fail(400, f"{key} must be a string")
    return {
        **{k: body.get(k) for k in ("platform", "title", "platform_url", "description")},
        "media_url": body.get("media_url"),
        "shares": _shares_arg(body.get("total_shares"), 100),
        "price": _price_arg(body.get("share_price"), 0.0),
    }


def _lax_create(body: dict[str, Any]) -> dict[str, Any]:
    """The platform's own create (fault ``accepts_wrong_types``): required fields need only be
    truthy in JavaScript's sense, anything else is coerced (CONTRACT §3.4, §6.10)."""
    if not all(_js_truthy(body.get(k)) for k in ("platform", "title", "platform_url")):
        raise fail(400, "Platform, title, and platform_url are required")
    shares: Any = body.get("total_shares")
    price: Any = body.get("share_price")
    return {
        **{k: _js_string(body[k]) for k in ("platform", "title", "platform_url")},
        **{k: _js_string(body.get(k)) for k in ("description", "media_url")},
        "shares": int(shares) if _is_number(shares) and 0 < shares <= 1e15 else 100,
        "price": float(price) if _is_number(price) and 0 <= price < 1e15 else 0.0,
    }


def _js_truthy(value: Any) -> bool:
    return value not in (None, False, "") and not (_is_number(value) and value == 0)


def _js_string(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shares_arg(value: Any, default: int) -> int:
    if value is None:
        return default
    ok = _is_number(value) and float(value).is_integer() and 0 < value <= 1_000_000
    if not ok:
        raise fail(400, "total_shares must be a positive integer up to 1000000")
    return int(value)


def _price_arg(value: Any, default: float) -> float:
    if value is None:
        return default
    if not (_is_number(value) and math.isfinite(value) and 0 <= value < 1000):
        raise fail(400, "share_price must be a number from 0 to below 1000")
    return float(value)


def _positive_int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else default


def _update_fields(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in ("title", "description", "media_url", "platform", "status"):
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise fail(400, f"{key} must be a string")
            if key in ("title", "platform", "status") and not value:
                raise fail(400, f"{key} must not be empty")
            changes[key] = value
    if "total_shares" in body:
        changes["shares"] = _shares_arg(body["total_shares"], 100)
    if "share_price" in body:
        changes["engagement_rate"] = engagement_rate_for(_price_arg(body["share_price"], 0.0))
    if not changes:
        raise fail(400, "No valid fields to update")
    return changes


# --- the routes ------------------------------------------------------------------------------


class ContentRoutes:
    """``/api/content`` and ``/api/content/{ident}``."""

    def __init__(self, api: PromorangApi) -> None:
        self.api = api
        self.config = api.config

    def routes(self) -> list[Route]:
        mock = MockMode(self.api)
        table = (
            ("/api/content", "GET", self.list_content, mock.list_content),
            ("/api/content", "POST", self.create, mock.create),
            ("/api/content/{ident}", "GET", self.get_content, mock.get_content),
            ("/api/content/{ident}", "PUT", self.update_content, mock.update_content),
            ("/api/content/{ident}", "DELETE", self.delete_content, mock.delete_content),
        )
        faults = self.config.faults
        return [
            Route(path, guarded(or_mock(real, fake, faults)), methods=[verb])
            for path, verb, real, fake in table
        ]

    async def create(self, request: Request) -> Response:
        body = fields_of(await read_json(request))
        claims = await authenticate(request, self.api)
        args = self._create_args(body)
        payload = {
            "creator_id": claims["sub"],
            **{k: args[k] for k in ("title", "description", "media_url", "platform")},
            "status": "published",
            "posted_at": now_iso(),
            "impressions": 0,
            "clicks": 0,
            "engagements": 0,
            "shares": args["shares"],
            "conversions": 0,
            "engagement_rate": engagement_rate_for(args["price"]),
        }
        try:
            resp = await self.api.rest(
                "POST", "content_items", json_body=payload, prefer="return=representation"
            )
            rows = resp.json() if resp.status_code in (200, 201) else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list) or not rows:
            raise fail(500, "Failed to create content")
        row, faults = rows[0], self.config.faults
        cid = str(row["id"])
        if "roundtrip_platform_url" not in faults:
            self.config.platform_urls[cid] = args["platform_url"]
        if "roundtrip_price" not in faults:
            self.config.share_prices[cid] = args["price"]
        minted = await self._mint(cid, claims["sub"], args["shares"])
        if "create_500_after_commit" in faults:
            # Build H: a later step fails after the row and its position are committed.
            raise fail(500, "Failed to create content")
        content = await ContentBuilder(self.api).build(row)
        # The create answer echoes the request (CONTRACT §3.4), whatever a GET reads back.
        content.update(platform_url=args["platform_url"], share_price=args["price"])
        return json_response(
            201,
            {
                "success": True,
                "content": content,
                "source": "content_items",
                "minted_shares": minted,
                "message": "Content created successfully",
            },
        )

    def _create_args(self, body: dict[str, Any]) -> dict[str, Any]:
        faults = self.config.faults
        try:
            if "accepts_wrong_types" in faults:
                return _lax_create(body)
            return _validate_create(body)
        except ApiError:
            if "bad_input_500" in faults:
                raise fail(500, "Failed to create content") from None
            raise

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
            resp = await self.api.rest(
                "POST", POSITIONS_TABLE, json_body=rows, prefer="return=minimal"
            )
        except httpx.HTTPError:
            return {"minted": False, "reason": "unexpected_error"}
        if resp.status_code >= 400:
            return {"minted": False, "reason": pg_message(resp, "mint_failed")}
        return {"minted": True, "table": POSITIONS_TABLE}

    async def _reader(self, request: Request) -> None:
        """The Create-flow reads need the user's token, as the platform's newest build requires
        (fault ``reads_need_no_auth``: anyone may read, as the build of 2025-10-29 did)."""
        if "reads_need_no_auth" not in self.config.faults:
            await authenticate(request, self.api)

    async def list_content(self, request: Request) -> Response:
        await self._reader(request)
        q = request.query_params
        page = _positive_int(q.get("page"), 1)
        limit = min(_positive_int(q.get("limit"), 20), 1000)
        offset = (page - 1) * limit
        if "list_ignores_limit" in self.config.faults and "limit" in q:
            # The platform adds offset and the string limit: "1" + "1" - 1 reads rows 1-10.
            limit = int(f"{offset}{limit}") - offset
        # id breaks ties of posted_at, so consecutive pages never overlap.
        params = {
            "select": "*",
            "order": "posted_at.desc,id.desc",
            "offset": str(offset),
            "limit": str(limit),
        }
        if q.get("type"):
            params["platform"] = f"eq.{q['type']}"
        try:
            resp = await self.api.rest("GET", "content_items", params=params)
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list):
            raise fail(500, "Failed to fetch content")
        builder = ContentBuilder(self.api)
        return json_response(200, [await builder.build(r) for r in rows])

    async def get_content(self, request: Request) -> Response:
        await self._reader(request)
        ident = request.path_params["ident"]
        if UUID_RE.match(ident):
            params = {"select": "*", "id": f"eq.{ident}"}
        elif ident.isdigit() and int(ident) > 0:
            offset = str(int(ident) - 1)
            params = {
                "select": "*",
                "order": "posted_at.desc,id.desc",
                "offset": offset,
                "limit": "1",
            }
        else:
            raise self._bad_id("Failed to fetch content item")
        try:
            resp = await self.api.rest("GET", "content_items", params=params)
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            raise fail(500, "Failed to fetch content item") from None
        if not isinstance(rows, list) or not rows:
            raise fail(404, "Content not found")
        content = await ContentBuilder(self.api).build(rows[0])
        return json_response(200, {"success": True, "content": content})

    async def update_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        body = fields_of(await read_json(request))
        claims = await authenticate(request, self.api)
        if not UUID_RE.match(ident):
            raise self._bad_id("Failed to update content")
        changes = _update_fields(body)
        faults = self.config.faults
        row = await self._owned(ident, claims)
        if row is None and "put_missing_500" in faults:
            # The platform's .single() makes a missing row an error, not a 404 (CONTRACT §3.7).
            raise fail(500, "Failed to update content")
        if row is None:
            raise fail(404, "Content not found")
        if "update_not_persisted" in faults:
            rows: Any = [{**row, **changes}]
        else:
            rows = await self._patch(ident, changes)
            if "share_price" in body:
                self.config.share_prices[ident] = _price_arg(body["share_price"], 0.0)
        return json_response(
            200,
            {
                "success": True,
                "content": await ContentBuilder(self.api).build(rows[0]),
                "source": "content_items",
                "message": "Content updated successfully",
            },
        )

    async def _patch(self, ident: str, changes: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            resp = await self.api.rest(
                "PATCH",
                "content_items",
                params={"id": f"eq.{ident}"},
                json_body=changes,
                prefer="return=representation",
            )
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list):
            raise fail(500, "Failed to update content")
        if not rows:
            raise fail(404, "Content not found")
        return rows

    async def delete_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        claims = await authenticate(request, self.api)
        if not UUID_RE.match(ident):
            raise self._bad_id("Failed to delete content")
        body = {"success": True, "message": f"Content {ident} deleted successfully"}
        faults = self.config.faults
        if await self._owned(ident, claims) is None:
            if "delete_missing_200" in faults:
                # PostgREST reports no error when nothing matched: the platform says 200 (§3.8).
                return json_response(200, body)
            raise fail(404, "Content not found")
        if "delete_noop" in faults:  # the creator's own item: answered, not deleted
            return json_response(200, body)
        try:
            resp = await self.api.rest(
                "DELETE",
                "content_items",
                params={"id": f"eq.{ident}"},
                prefer="return=representation",
            )
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if rows is None:
            raise fail(500, "Failed to delete content")
        if not rows:
            raise fail(404, "Content not found")
        self.config.platform_urls.pop(ident, None)
        self.config.share_prices.pop(ident, None)
        return json_response(200, body)

    async def _owned(self, ident: str, claims: Mapping[str, Any]) -> dict[str, Any] | None:
        """The row (None when absent); 403 when another user created it, unless the fault
        ``no_ownership_check`` lets anyone change anything (CONTRACT §6.11)."""
        try:
            resp = await self.api.rest("GET", "content_items", params={"id": f"eq.{ident}"})
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list):
            raise fail(500, "Failed to fetch content item")
        if not rows:
            return None
        row: dict[str, Any] = rows[0]
        mine = row.get("creator_id") == claims.get("sub")
        if not mine and "no_ownership_check" not in self.config.faults:
            raise fail(403, "Not allowed: the content belongs to another creator")
        return row

    def _bad_id(self, failure: str) -> ApiError:
        """400 for an id that is no UUID; the platform's 500 under ``bad_id_500`` (§6.5, §6.7)."""
        if "bad_id_500" in self.config.faults:
            return fail(500, failure)
        return fail(400, "Invalid content identifier")
