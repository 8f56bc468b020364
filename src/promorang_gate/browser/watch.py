"""What a page did, seen from the browser: each ``/api/`` call and where it went, and the
console's errors. Requests to hosts outside the environment are answered locally, so a check
never reaches the Internet and its outcome does not depend on it; on an environment without
writes, the browser's writes are refused before they leave it, like every other transport's."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promorang_gate.target import breaker
from promorang_gate.target.http import WRITE_METHODS, OriginUnavailable, WriteRefused
from promorang_gate.target.vercel_bypass import VercelBypass

if TYPE_CHECKING:
    from playwright.sync_api import (
        BrowserContext,
        ConsoleMessage,
        Request,
        Response,
        Route,
        WebError,
    )

    from promorang_gate.target.environments import Target

__all__ = ["ApiCall", "PageWatch", "origin_of", "sign_in_script"]

API_PREFIX = "/api/"
# A 1x1 transparent PNG: the answer to an image outside the environment (a stock photo).
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def sign_in_script(frontend_url: str, token: str) -> str:
    """An init script putting the creator's session where the platform's frontend keeps it after
    sign-in (``localStorage.authToken``), on the frontend's origin only, before its code runs.
    (A ``storage_state`` does the same but opens a page per origin: ten times slower.)"""
    origin, value = json.dumps(origin_of(frontend_url)), json.dumps(token)
    return f"if (location.origin === {origin}) localStorage.setItem('authToken', {value});"


@dataclass
class ApiCall:
    """One ``/api/`` request of the page and what became of it."""

    method: str
    url: str
    via: str  # "api" (direct), "rewrite" (the frontend's host) or "elsewhere"
    request: Request
    response: Response | None = None
    failure: str | None = None
    # A write's answer, read as soon as it arrived: once the page navigates away, the browser
    # no longer gives it (build B's form leaves for /content/undefined 2 s after its create).
    body: bytes | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def problem(self) -> str | None:
        """Why this call failed the page, or None."""
        where = f"{self.method} {self.url}"
        if self.via == "elsewhere":
            return f"{where} went outside the environment (not its API, not the frontend's /api)"
        if self.failure is not None:
            return f"{where} failed in the browser: {self.failure}"
        if self.response is None:
            return f"{where} got no answer"
        status = self.response.status
        if status >= 400:
            return f"{where} answered {status}"
        ctype = self.response.headers.get("content-type", "")
        if status != 204 and "json" not in ctype:
            return f"{where} answered {status} {ctype or 'without a type'}, not the API's JSON"
        return None

    def sent_json(self) -> Any:
        """The JSON body the page sent, or None."""
        try:
            return self.request.post_data_json
        except ValueError:
            return None

    def answer_json(self) -> Any:
        """The JSON body of the answer, or None when there is none (or it is not JSON)."""
        if self.response is None:
            return None
        try:
            return json.loads(self.body) if self.body is not None else self.response.json()
        except Exception:  # Playwright's Error or a decoding error: either way, no body
            return None

    def __str__(self) -> str:
        outcome = self.failure or (self.response.status if self.response else "no answer")
        return f"{self.method} {self.url} -> {outcome}"


_EMPTY_ANSWER_TYPES = {"stylesheet": "text/css", "script": "text/javascript"}


class PageWatch:
    """Attach to a browser context before its pages load; read the record afterwards."""

    def __init__(self, target: Target) -> None:
        self.api_origin = origin_of(target.api_url)
        self.frontend_origin = origin_of(target.frontend_url)
        self._hosts = {origin_of(u) for u in (target.api_url, target.frontend_url)}
        self._hosts.add(origin_of(target.supabase_url))
        self._env = target.name
        self._writes_allowed = target.writes_allowed
        self._bypass = VercelBypass.of(target)
        self.calls: list[ApiCall] = []
        self._by_request: dict[Request, ApiCall] = {}
        self.console_errors: list[str] = []
        self.answered_locally: list[str] = []
        self.refused_writes: list[str] = []

    def attach(self, context: BrowserContext) -> None:
        """Raises OriginUnavailable when the env's frontend or API stopped answering earlier in
        the run (``breaker``): the page would only wait for it again."""
        for origin in (self.frontend_origin, self.api_origin):
            given_up = breaker.reason(origin)
            if given_up is not None:
                raise OriginUnavailable(f"the browser check does not load the page: {given_up}")
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("requestfailed", self._on_failed)
        context.on("requestfinished", self._on_finished)
        context.on("console", self._on_console)
        context.on("weberror", self._on_weberror)
        if self._writes_allowed:
            context.route(self._outside, self._answer_locally)
        else:
            context.route("**/*", self._guarded)
        if self._bypass is not None:  # registered last, so it runs first, then falls back
            context.route("**/*", self._with_bypass)

    # record -----------------------------------------------------------------------------------

    def _via(self, url: str) -> str:
        origin = origin_of(url)
        if origin == self.api_origin:
            return "api"
        return "rewrite" if origin == self.frontend_origin else "elsewhere"

    def _on_request(self, request: Request) -> None:
        if urlsplit(request.url).path.startswith(API_PREFIX):
            call = ApiCall(request.method, request.url, self._via(request.url), request)
            self.calls.append(call)
            self._by_request[request] = call

    def _on_response(self, response: Response) -> None:
        call = self._by_request.get(response.request)
        if call is not None:
            call.response = response

    def _on_finished(self, request: Request) -> None:
        call = self._by_request.get(request)
        if call is None or call.method.upper() not in WRITE_METHODS or call.response is None:
            return
        try:
            call.body = call.response.body()
        except Exception:  # Playwright's Error: the body is gone already; answer_json says None
            call.body = None

    def _on_failed(self, request: Request) -> None:
        call = self._by_request.get(request)
        if call is not None:
            call.failure = request.failure or "failed"

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url") if isinstance(message.location, Mapping) else ""
            self.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def _on_weberror(self, error: WebError) -> None:
        self.console_errors.append(f"uncaught {error.error.name}: {error.error.message}")

    # routing ----------------------------------------------------------------------------------

    def _outside(self, url: str) -> bool:
        return url.startswith(("http://", "https://")) and origin_of(url) not in self._hosts

    def _answer_locally(self, route: Route) -> None:
        """Third parties (fonts, analytics, payment scripts) get nothing from the gate: an empty
        answer of their kind, not a blocked request, which the console would log as an error
        of the page under test."""
        request = route.request
        self.answered_locally.append(f"{request.method} {request.url}")
        if request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)
        else:
            kind = _EMPTY_ANSWER_TYPES.get(request.resource_type, "text/plain")
            route.fulfill(status=200, content_type=kind, body=b"")

    def _with_bypass(self, route: Route) -> None:
        """Vercel's protection bypass header on requests to the env's Vercel hosts only."""
        assert self._bypass is not None
        request = route.request
        route.fallback(headers=self._bypass.headers_for(request.url, request.headers))

    def _guarded(self, route: Route) -> None:
        request = route.request
        if self._outside(request.url):  # sent nowhere: a third party's beacon is no write here
            self._answer_locally(route)
        elif request.method.upper() in WRITE_METHODS:
            self.refused_writes.append(f"{request.method} {urlsplit(request.url).path}")
            route.abort("blockedbyclient")
        else:
            route.continue_()

    # read -------------------------------------------------------------------------------------

    def raise_if_writes_refused(self) -> None:
        """WriteRefused (→ not verified) when the page tried to write on a read-only env."""
        if self.refused_writes:
            first = self.refused_writes[0]
            raise WriteRefused(f"writes not allowed on {self._env}: {first} refused before sending")

    def api_problems(self) -> list[str]:
        return [p for p in (c.problem() for c in self.calls) if p is not None]

    def calls_to(self, method: str, path: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method and c.path == path]

    def describe(self) -> str:
        """Every API call of the page, one a line, for failure messages."""
        return "\n".join(f"  {c}" for c in self.calls) or "  (the page made no API call)"
