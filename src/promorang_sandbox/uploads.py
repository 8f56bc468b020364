"""``POST /api/content/upload-image`` (CONTRACT §3.2, §5) and its faults."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api_common import (
    ApiError,
    demo_media,
    fail,
    fields_of,
    guarded,
    json_response,
    pg_message,
    read_json,
)
from .auth import authenticate
from .mock import MockMode, or_mock

if TYPE_CHECKING:
    from .api_state import PromorangApi

__all__ = ["IMAGE_TYPES", "Uploads", "lenient_b64decode", "safe_name"]

# What the Create form offers (CONTRACT §7); anything else in a public bucket is a liability.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


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


class Uploads:
    """The upload route: stores the image through the gateway's storage API."""

    def __init__(self, api: PromorangApi) -> None:
        self.api = api
        self.config = api.config

    def routes(self) -> list[Route]:
        handler = or_mock(self.upload_image, MockMode(self.api).upload_image, self.config.faults)
        return [Route("/api/content/upload-image", guarded(handler), methods=["POST"])]

    async def upload_image(self, request: Request) -> Response:
        body = fields_of(await read_json(request))
        claims = await authenticate(request, self.api)
        if "accepts_wrong_types" in self.config.faults and not isinstance(
            body.get("fileName"), str | None
        ):
            # The platform's own upload (CONTRACT §3.2): a falsy name is its fallback name
            # content-<ms>.jpg; any other non-string makes .trim() throw: a 201 fallback.
            if body["fileName"] not in (0, False):
                return self._fallback(
                    str(body.get("fileType")), "Unexpected error, using fallback media"
                )
            body = {**body, "fileName": None}
        try:
            data, file_type, file_name = self._upload_args(body)
            if file_type not in IMAGE_TYPES and "upload_accepts_html" not in self.config.faults:
                raise fail(400, "Unsupported file type: upload an image (png, jpeg, gif or webp)")
        except ApiError as exc:
            if "bad_input_500" in self.config.faults:
                raise fail(500, "Failed to upload image") from None
            raise exc
        faults = self.config.faults
        if "upload_500" in faults:
            raise fail(500, "Failed to upload image")
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
            resp = await self.api.client.post(
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
        if "upload_path_mismatch" in faults:  # answers the same name under another uuid
            key = key.replace(name, f"{uuid.uuid4()}-{safe_name(file_name)}")
        base = self.config.supabase_url.rstrip("/")
        url = f"{base}/storage/v1/object/public/{self.config.bucket}/{key}"
        return json_response(201, {"success": True, "imageUrl": url})

    @staticmethod
    def _upload_args(body: dict[str, Any]) -> tuple[bytes, str, str | None]:
        file_type, file_data, file_name = (
            body.get("fileType"),
            body.get("fileData"),
            body.get("fileName"),
        )
        if not file_type or not file_data:
            raise fail(400, "fileType and fileData are required")
        if not isinstance(file_data, str) or not isinstance(file_type, str):
            raise fail(400, "Invalid base64 payload")
        if file_name is not None and not isinstance(file_name, str):
            raise fail(400, "Invalid base64 payload")
        data = lenient_b64decode(file_data)
        if not data:
            raise fail(400, "Empty file payload")
        return data, file_type, file_name

    def _fallback(self, seed: str, reason: str) -> Response:
        body = {"success": True, "imageUrl": demo_media(seed), "fallback": True}
        return json_response(201, {**body, "fallbackReason": reason})
