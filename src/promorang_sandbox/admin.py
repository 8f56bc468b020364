"""The sandbox's admin endpoint (never recorded): faults and the request record."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api_common import ApiError, guarded, json_response
from .faults import UnknownFault

if TYPE_CHECKING:
    from .api_state import ApiConfig

__all__ = ["Admin"]


class Admin:
    """``/__sandbox/faults`` and ``/__sandbox/requests``, behind the admin token."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config

    def routes(self) -> list[Route]:
        return [
            Route("/__sandbox/faults", guarded(self.faults), methods=["GET", "PUT"]),
            Route("/__sandbox/requests", guarded(self.requests), methods=["GET", "DELETE"]),
        ]

    def _authorize(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not secrets.compare_digest(given.encode(), self.config.admin_token.encode()):
            raise ApiError(401, {"error": "admin token required"})

    async def faults(self, request: Request) -> Response:
        self._authorize(request)
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
        return json_response(200, {"faults": list(self.config.faults.active)})

    async def requests(self, request: Request) -> Response:
        self._authorize(request)
        if request.method == "DELETE":
            self.config.recorder.clear()
            return json_response(200, {"cleared": True})
        return json_response(200, [r.as_json() for r in self.config.recorder.snapshot()])
