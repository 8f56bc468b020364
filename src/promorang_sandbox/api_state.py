"""The reference API's shared state: its configuration and its client of the gateway.

The route modules (``content``, ``uploads``, ``growth``, ``mock``, ``auth``) and the assembler
(``api``) all import it from here, so no route module imports the assembler back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .api_common import json_response, now_iso
from .faults import FaultSet
from .recorder import RequestRecorder
from .traffic import TrafficMetrics

__all__ = ["STALE_COMMIT", "ApiConfig", "PromorangApi"]

# Fault stale_deployment: the API still runs an older build (the platform's snapshot B).
STALE_COMMIT = "baf89b7eb"


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
    # The gateway's ASGI app when it runs in this process (the sandbox's stack): the API calls
    # it directly instead of through a socket, the same requests without the HTTP round trip.
    gateway_app: Any = None
    bucket: str = "content-media"
    private_bucket: str = "content-media-private"
    upload_prefix: str = "uploads"
    timeout_s: float = 10.0
    # What content_items has no column for, kept so it reads back as written (CONTRACT §6.8).
    platform_urls: dict[str, str] = field(default_factory=dict)
    share_prices: dict[str, float] = field(default_factory=dict)
    # Real-traffic counters served at /metrics (traffic.py).
    traffic: TrafficMetrics = field(default_factory=TrafficMetrics)
    # The Stripe variables the backend reads (names as in the platform's .env), CONTRACT §8.
    stripe_env: dict[str, str] = field(default_factory=dict)
    # The commit this build was made from (its reference repository's HEAD), stated on health.
    build_commit: str | None = None


class PromorangApi:
    """The API's shared state: its configuration and its client of the gateway."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        base = (config.gateway_url or config.supabase_url).rstrip("/")
        key = config.service_role_key
        transport = None
        if config.gateway_app is not None:
            # raise_app_exceptions off: an error in the gateway answers 500, as over HTTP.
            transport = httpx.ASGITransport(config.gateway_app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(
            base_url=base,
            transport=transport,
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

    async def health(self, request: Request) -> Response:
        faults = self.config.faults
        if "health_slow" in faults:
            await asyncio.sleep(10)
        if "health_down" in faults:
            return json_response(503, {"status": "down"})
        body: dict[str, str] = {"status": "OK", "timestamp": now_iso(), "service": "promorang-api"}
        commit = STALE_COMMIT if "stale_deployment" in faults else self.config.build_commit
        if commit:
            body["commit"] = commit
        return json_response(200, body)

    async def not_found(self, request: Request) -> Response:
        if request.url.path.startswith("/api"):
            body = {"error": "Not Found", "message": "The requested API endpoint does not exist"}
            return json_response(404, body)
        return PlainTextResponse(f"Cannot {request.method} {request.url.path}", status_code=404)
