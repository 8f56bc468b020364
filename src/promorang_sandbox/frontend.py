"""The sandbox frontend: the pages of ``frontend_assets/`` served as a built single-page app.

The bundle is "built" when served: the API base the real build inlines (``VITE_API_URL``) is
written into it, the API's absolute URL in ``absolute`` mode or ``""`` in ``relative`` mode,
where the pages call ``/api/...`` on the frontend's own host and the host forwards them to the
API, as the production host's rewrite does (CONTRACT §7). Frontend faults are other builds (the
healthy source with the defect's line) or a host without that rewrite.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .faults import FaultSet

FrontendMode = Literal["absolute", "relative"]
FRONTEND_MODES: tuple[FrontendMode, ...] = ("absolute", "relative")
WRONG_API = "http://localhost:3001"
API_BASE_PLACEHOLDER = '"__PROMORANG_API_BASE_URL__"'
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
IMMUTABLE = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
# A faulty build is the healthy source with one line as the platform's defect has it.
BUILD_PATCHES: Mapping[str, tuple[str, str]] = {
    # CONTRACT §6.16: the form reads result.contentId; the API answers content.id.
    "frontend_reads_wrong_id": (
        "const contentId = result.content.id;",
        "const contentId = result.contentId;",
    ),
    # B's form after a create that succeeded: whatever the API answered, it lands on
    # /content/undefined (docs/traps.md H.8).
    "create_redirects_to_undefined": (
        "navigate(`/content/${contentId}`);",
        'navigate("/content/undefined");',
    ),
    # CONTRACT §6.17: the form overrides the typed share price (gem funding / shares, or 0).
    "frontend_price_override": ("share_price: sharePrice,", "share_price: 0,"),
}
# Not forwarded by the rewrite: hop-by-hop headers, and what httpx recomputes or decodes.
_DROP_REQUEST = frozenset({"host", "connection", "content-length", "accept-encoding"})
_DROP_RESPONSE = frozenset(
    {"connection", "content-length", "content-encoding", "transfer-encoding", "keep-alive"}
)
PROXY_TIMEOUT_S = 30.0


def _asset(name: str) -> str:
    return (resources.files("promorang_sandbox") / "frontend_assets" / name).read_text("utf-8")


def _hashed(stem: str, suffix: str, body: bytes) -> str:
    return f"/assets/{stem}-{hashlib.sha256(body).hexdigest()[:8]}.{suffix}"


@dataclass(frozen=True)
class Build:
    """One build of the app: its index page and its hashed assets."""

    index_html: str
    assets: Mapping[str, tuple[bytes, str]]  # path -> (body, media type)

    @property
    def bundle_path(self) -> str:
        return next(p for p in self.assets if p.endswith(".js"))


@functools.lru_cache(maxsize=16)
def build(api_base: str, patches: tuple[str, ...] = (), commit: str | None = None) -> Build:
    """The app built against ``api_base`` ("" = relative), with the named faulty patches; a
    build from a commit states it (``window.__PROMORANG_BUILD_COMMIT__``)."""
    source = _asset("app.js")
    if commit:
        source = f"window.__PROMORANG_BUILD_COMMIT__ = {json.dumps(commit)};\n" + source
    if API_BASE_PLACEHOLDER not in source:
        raise RuntimeError("app.js lost its API base placeholder")
    source = source.replace(API_BASE_PLACEHOLDER, json.dumps(api_base))
    for name in patches:
        if name not in BUILD_PATCHES:
            continue
        healthy, faulty = BUILD_PATCHES[name]
        if healthy not in source:
            raise RuntimeError(f"app.js no longer contains the line {name} changes: {healthy}")
        source = source.replace(healthy, faulty)
    # The Create page's API settings ship in a chunk of their own, loaded lazily (import()), as
    # the platform's newest build splits its Create form (fault frontend_lazy_chunk_wrong_api:
    # that chunk was built without VITE_API_URL).
    chunk_base = WRONG_API if "frontend_lazy_chunk_wrong_api" in patches else api_base
    chunk = f"export const CREATE_API = {json.dumps(chunk_base + '/api/content')};\n".encode()
    chunk_path = _hashed("create", "js", chunk)
    source += (
        "\n// The Create page's settings: a chunk of its own, loaded when needed.\n"
        f"export const loadCreateSettings = () => import({json.dumps('./' + chunk_path[8:])});\n"
    )
    bundle, css = source.encode(), _asset("app.css").encode()
    bundle_path, css_path = _hashed("index", "js", bundle), _hashed("index", "css", css)
    html = _asset("index.html").replace("%BUNDLE%", bundle_path).replace("%STYLESHEET%", css_path)
    assets = {
        bundle_path: (bundle, "text/javascript"),
        chunk_path: (chunk, "text/javascript"),
        css_path: (css, "text/css"),
    }
    return Build(index_html=html, assets=assets)


def build_for(
    api_url: str, mode: FrontendMode, active: Iterable[str], commit: str | None = None
) -> Build:
    """The build the frontend serves while ``active`` faults are on."""
    faults = set(active)
    base = api_url if mode == "absolute" else ""
    if "frontend_wrong_api" in faults:
        base = WRONG_API  # built without VITE_API_URL: the config's localhost fallback
    chunk_faults = ("frontend_lazy_chunk_wrong_api",)
    return build(base, tuple(n for n in (*BUILD_PATCHES, *chunk_faults) if n in faults), commit)


class ApiRewrite:
    """The host's ``/api/(.*) -> <api>/api/$1`` rewrite: forwards the request as it came."""

    def __init__(self, api_url: str | Callable[[], str]) -> None:
        self._api_url = api_url
        self._client: httpx.AsyncClient | None = None

    def _base(self) -> str:
        return self._api_url if isinstance(self._api_url, str) else self._api_url()

    async def forward(self, request: Request) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=PROXY_TIMEOUT_S)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST]
        url = f"{self._base()}{request.url.path}"
        try:
            upstream = await self._client.request(
                request.method,
                url,
                params=request.url.query or None,
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError:
            return PlainTextResponse("Bad Gateway", 502, headers=SECURITY_HEADERS)
        response = Response(upstream.content, status_code=upstream.status_code)
        for key, value in upstream.headers.multi_items():
            if key.lower() not in _DROP_RESPONSE:
                response.headers.append(key, value)
        return response

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def create_frontend_app(
    api_url: str | Callable[[], str],
    faults: FaultSet,
    mode: FrontendMode = "absolute",
    commit: str | None = None,
) -> Starlette:
    """The frontend host; ``api_url`` may be a callable when it is known only later."""
    rewrite = ApiRewrite(api_url)

    def current() -> Build:
        url = api_url if isinstance(api_url, str) else api_url()
        return build_for(url, mode, faults.active, commit)

    async def serve(request: Request) -> Response:
        if "frontend_down" in faults:
            return PlainTextResponse("Service Unavailable", 503, headers=SECURITY_HEADERS)
        path, method = request.url.path, request.method
        if path == "/api" or path.startswith("/api/"):
            if "frontend_api_unrouted" not in faults:
                return await rewrite.forward(request)
            # No rewrite: the SPA fallback answers reads with the app, other methods 404.
            if method not in ("GET", "HEAD"):
                return PlainTextResponse("Not Found", 404, headers=SECURITY_HEADERS)
        if method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers=SECURITY_HEADERS)
        app = current()
        if path in app.assets:
            body, media_type = app.assets[path]
            return Response(body, media_type=media_type, headers=IMMUTABLE)
        if path.startswith("/assets/") or path.endswith(".map"):
            return PlainTextResponse("Not Found", 404, headers=SECURITY_HEADERS)
        return HTMLResponse(app.index_html, headers=SECURITY_HEADERS)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await rewrite.aclose()

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", serve, methods=methods)], lifespan=lifespan)
