"""Mock mode (fault ``mock_mode``): what the platform answers when it runs without its Supabase
variables, e.g. after following the setup guide's ``SUPABASE_SERVICE_KEY`` (CONTRACT §6.1).
Every request succeeds and nothing is stored."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .api_common import demo_media, fail, fields_of, json_response, now_iso, read_json

if TYPE_CHECKING:
    from .api_state import PromorangApi
    from .faults import FaultSet

__all__ = ["MockMode", "or_mock"]

Handler = Callable[[Request], Awaitable[Response]]
PLATFORMS = ("instagram", "tiktok", "youtube", "linkedin", "twitter")
MOCK_USER = "user@example.com"


def or_mock(real: Handler, mock: Handler, faults: FaultSet) -> Handler:
    """``real``, or ``mock`` while the fault ``mock_mode`` is on."""

    async def run(request: Request) -> Response:
        return await (mock if "mock_mode" in faults else real)(request)

    return run


def _parse_int(text: str) -> int | None:
    """JavaScript's parseInt: the leading digits (with a sign), or None for NaN."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


class MockMode:
    """The mock-mode answers of the content and upload routes (CONTRACT §3.2-§3.8)."""

    def __init__(self, api: PromorangApi) -> None:
        self.api = api

    async def upload_image(self, request: Request) -> Response:
        body = fields_of(await read_json(request))
        if not body.get("fileType") or not body.get("fileData"):
            raise fail(400, "fileType and fileData are required")
        reason = "Supabase storage is not configured in this environment"
        seed = str(body.get("fileName") or body.get("fileType"))
        answer = {"success": True, "imageUrl": demo_media(seed), "fallback": True}
        return json_response(201, {**answer, "fallbackReason": reason})

    async def create(self, request: Request) -> Response:
        body = fields_of(await read_json(request))
        if not (body.get("platform") and body.get("title") and body.get("platform_url")):
            raise fail(400, "Platform, title, and platform_url are required")
        now, shares = now_iso(), body.get("total_shares") or 100
        content: dict[str, Any] = {
            "id": int(time.time() * 1000),
            "creator_id": None,
            "creator_name": MOCK_USER,
            "creator_username": None,
            "creator_avatar": "https://api.dicebear.com/7.x/avataaars/svg?seed=mock",
            **{k: body.get(k) for k in ("platform", "platform_url", "title")},
            **{k: body[k] for k in ("description", "media_url") if k in body},
            "total_shares": shares,
            "available_shares": shares,
            "share_price": body.get("share_price") or 0,
            "current_revenue": 0,
            "created_at": now,
            "updated_at": now,
        }
        message = "Content created successfully (mock)"
        return json_response(201, {"success": True, "content": content, "message": message})

    async def list_content(self, request: Request) -> Response:
        raw = request.query_params.get("limit", "")
        limit = int(raw) if raw.isdigit() and int(raw) > 0 else 20
        items = [
            {"id": n + 1, "title": f"Demo content {n + 1}", "platform": PLATFORMS[n % 5]}
            for n in range(min(limit, 100))
        ]
        return json_response(200, items)

    async def get_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        now = datetime.now(UTC).isoformat()
        content = {
            "id": _parse_int(ident),
            "title": "Demo content",
            "description": "Mock content",
            "type": "post",
            "author": {"id": 1, "username": "demo", "avatar": demo_media(ident)},
            "createdAt": now,
            "updatedAt": now,
            "likes": 42,
            "comments": 7,
            "media": [demo_media(ident)],
            "tags": [],
        }
        return json_response(200, {"success": True, "content": content})

    async def update_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        body = fields_of(await read_json(request))
        content = {"id": _parse_int(ident), **body, "updated_at": now_iso()}
        answer = {"success": True, "content": content, "message": "Content updated successfully"}
        return json_response(200, answer)

    async def delete_content(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        message = f"Content {ident} deleted successfully"
        return json_response(200, {"success": True, "message": message})
