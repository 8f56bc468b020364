"""helmet() and cors() as the platform configures them (CONTRACT §2), plus its error handler."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api_common import ERROR_BODY
from .faults import CREEP_AFTER_S
from .traffic import METRICS_PATH

if TYPE_CHECKING:
    from .api_state import ApiConfig

logger = logging.getLogger("promorang_sandbox.api")
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
# latency_creeps: each request waits this much more per second the fault has been on, at most
# CREEP_MAX_S (below the sandbox's 5 s request timeout: slow, never failing).
CREEP_PER_S, CREEP_MAX_S = 0.4, 2.5


def _hostname(origin: str) -> str:
    try:
        return urlsplit(origin).hostname or ""
    except ValueError:
        return ""


class PlatformMiddleware:
    """helmet() and cors() as the platform configures them, plus its error handler."""

    def __init__(self, app: ASGIApp, config: ApiConfig) -> None:
        self.app = app
        self.config = config
        self._requests = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and scope["method"] == "GET":
            body, content_type = self.config.traffic.render()
            await Response(body, media_type=content_type)(scope, receive, send)
            return
        if not scope["path"].startswith("/__sandbox"):
            send = self._counted(scope["method"], send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        cors = "cors_missing" not in self.config.faults
        allowed = cors and origin is not None and origin == self.config.frontend_origin
        if cors and origin is not None and "cors_reflects_vercel_app" in self.config.faults:
            # Build H: any *.vercel.app origin is allowed, with credentials.
            allowed = allowed or _hostname(origin).endswith(".vercel.app")
        if scope["method"] == "OPTIONS" and not scope["path"].startswith("/__sandbox"):
            await self._preflight(headers, allowed, cors, send)
            return
        if not scope["path"].startswith("/__sandbox") and await self._creeping_fault():
            await JSONResponse(ERROR_BODY, status_code=500)(scope, receive, send)
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

    def _counted(self, method: str, send: Send) -> Send:
        """``send``, counting the response's status for /metrics."""

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.config.traffic.observe(method, int(message["status"]))
            await send(message)

        return counting

    async def _creeping_fault(self) -> bool:
        """The faults that appear after a while: a growing delay, then every second request
        failing. True when this request is to answer 500."""
        faults = self.config.faults
        creep = faults.since("latency_creeps")
        if creep is not None and creep > CREEP_AFTER_S:
            await asyncio.sleep(min(CREEP_MAX_S, CREEP_PER_S * (creep - CREEP_AFTER_S)))
        rises = faults.since("error_rate_rises")
        return rises is not None and rises > CREEP_AFTER_S and next(self._requests) % 2 == 1

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
