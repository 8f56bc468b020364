"""The gate's HTTP client: explicit timeouts, no writes on read-only envs, redacted evidence."""

from __future__ import annotations

import collections
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from promorang_gate.secrets.redaction import MASK, SENSITIVE_HEADERS, Redactor
from promorang_gate.target.bounded import (
    BodyTooLarge,
    BoundedTransport,
    CoreTransport,
    DeadlineExceeded,
    OriginUnavailable,
    one_deadline,
    refuse_given_up,
)
from promorang_gate.target.connections import recheck_before_write
from promorang_gate.target.vercel_bypass import BypassTransport, VercelBypass

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BODY_BYTES",
    "WRITE_METHODS",
    "BodyTooLarge",
    "DeadlineExceeded",
    "Exchange",
    "GateHttp",
    "GuardedTransport",
    "OriginUnavailable",
    "RedirectRefused",
    "WriteRefused",
    "guard",
    "refuse_given_up",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Characters of a body kept as evidence (after indenting).
BODY_LIMIT = 8192
RING_SIZE = 20
DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 5
_log = logging.getLogger("promorang_gate.target.http")

if TYPE_CHECKING:  # the public name is pytest.skip.Exception; mypy only sees the class by this path
    from _pytest.outcomes import Skipped as _SkipBase
else:
    _SkipBase = pytest.skip.Exception


class WriteRefused(_SkipBase):
    """A write was stopped before sending: the env does not allow writes (→ not verified)."""


def guard(method: str, url: str, writes_allowed: bool, target_name: str) -> None:
    """Raise :class:`WriteRefused` for a write on an env without writes (any transport), and
    ``ProtectedHostRefused`` for a write that would reach a protected env's host."""
    verb = method.upper()
    if verb in WRITE_METHODS and writes_allowed:
        recheck_before_write(str(url), target_name)
    if writes_allowed or verb not in WRITE_METHODS:
        return
    path = urlsplit(str(url)).path or "/"
    raise WriteRefused(f"writes not allowed on {target_name}: {verb} {path} refused before sending")


class RedirectRefused(httpx.RequestError):
    """A redirect to another origin was not followed: its credentials stay with their host."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class _GateClient(httpx.Client):
    """Follows redirects (when asked) only within the origin of the request.

    httpx drops ``Authorization`` on a cross-origin redirect but keeps every other header,
    Supabase's ``apikey`` included; a deployment redirecting elsewhere would receive the
    service-role key. A redirect to another origin is refused before anything is sent.
    The hops share the request's one deadline."""

    deadline_s: float | None = None

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if self.deadline_s is None:
            return self._send(request, **kwargs)
        with one_deadline(self.deadline_s):
            return self._send(request, **kwargs)

    def _send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        follow = kwargs.pop("follow_redirects", httpx.USE_CLIENT_DEFAULT)
        if follow is httpx.USE_CLIENT_DEFAULT:
            follow = self.follow_redirects
        response = super().send(request, follow_redirects=False, **kwargs)
        hops = 0
        while follow and response.next_request is not None:
            target = response.next_request
            if _origin(target.url) != _origin(request.url):
                response.close()
                where = f"{target.url.scheme}://{target.url.netloc.decode('ascii')}"
                raise RedirectRefused(
                    f"{request.method} {request.url.path} redirected to another origin ({where}):"
                    " not followed, the request's credentials are not sent there",
                    request=request,
                )
            hops += 1
            if hops > MAX_REDIRECTS:
                response.close()
                raise httpx.TooManyRedirects("too many redirects", request=request)
            response.read()
            response.close()
            response = super().send(target, follow_redirects=False, **kwargs)
        return response


class GuardedTransport(httpx.BaseTransport):
    """Wraps a transport; refuses writes before they reach ``inner`` when they are not allowed."""

    def __init__(self, inner: httpx.BaseTransport, *, target_name: str, writes_allowed: bool):
        self._inner = inner
        self.target_name = target_name
        self.writes_allowed = writes_allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        guard(request.method, str(request.url), self.writes_allowed, self.target_name)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class Exchange:
    """One request and its response (or error), already redacted."""

    method: str
    url: str
    status: int | None
    elapsed_s: float | None
    text: str

    @property
    def title(self) -> str:
        path = urlsplit(self.url).path or "/"
        outcome = self.status if self.status is not None else "error"
        return f"{self.method} {path} → {outcome}"


def _pretty_json(text: str, content_type: str) -> str | None:
    """``text`` indented when it is a JSON document (declared or not), else None."""
    looks_json = "json" in content_type.lower() or text.lstrip()[:1] in ("{", "[")
    if not looks_json:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return json.dumps(document, indent=2, ensure_ascii=False)


def _body_text(content: bytes, content_type: str, redactor: Redactor) -> str:
    """The body as evidence: redacted, JSON indented, then cut at ``BODY_LIMIT``.

    Redaction comes first (a secret cut in half would no longer be recognised) and again after
    indenting: decoding JSON turns escapes such as ``\\u002f`` back into the characters a
    registered secret is made of."""
    if not content:
        return "(empty)"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(content)} bytes of {content_type or 'binary data'})"
    text = redactor.redact(text)
    pretty = _pretty_json(text, content_type)
    if pretty is not None:
        text = redactor.redact(pretty)
    if len(text) <= BODY_LIMIT:
        return text
    return text[:BODY_LIMIT] + f"\n… ({len(content)} bytes, truncated)"


def _request_body(request: httpx.Request) -> bytes | None:
    try:
        return request.content
    except httpx.RequestNotRead:
        return None


def _type(headers: httpx.Headers) -> str:
    return str(headers.get("content-type", ""))


def _headers_text(headers: httpx.Headers, redactor: Redactor) -> str:
    """Every header line (a repeated name each time: a mapping kept only the last), the
    sensitive ones' values masked, the block redacted as one text (what a value alone would
    lose it loses in the block too)."""
    lines = (
        f"{name}: {MASK if name.lower() in SENSITIVE_HEADERS else value}"
        for name, value in headers.multi_items()
    )
    return redactor.redact("\n".join(lines))


def render_exchange(
    request: httpx.Request,
    response: httpx.Response | None,
    redactor: Redactor,
    error: BaseException | None = None,
) -> Exchange:
    url = redactor.redact_url(request.url)
    body = _request_body(request)
    lines = [
        f"{request.method} {url}",
        _headers_text(request.headers, redactor),
        "",
        "(streamed body)" if body is None else _body_text(body, _type(request.headers), redactor),
        "",
    ]
    status: int | None = None
    elapsed: float | None = None
    if response is not None:
        status = response.status_code
        try:
            elapsed = response.elapsed.total_seconds()
        except RuntimeError:
            elapsed = None
        timing = f" in {elapsed:.3f}s" if elapsed is not None else ""
        lines += [
            f"HTTP {response.status_code} {response.reason_phrase}{timing}",
            _headers_text(response.headers, redactor),
            "",
            _body_text(response.content, _type(response.headers), redactor),
        ]
    elif error is not None:
        lines.append(f"no response: {type(error).__name__}: {redactor.redact(str(error))}")
    return Exchange(request.method, url, status, elapsed, "\n".join(lines))


def _attach(exchange: Exchange) -> None:
    try:
        import allure

        kind = allure.attachment_type.TEXT
        allure.attach(exchange.text, name=exchange.title, attachment_type=kind)
    except Exception as exc:  # best effort: outside a test there is nothing to attach to
        _log.debug("attachment skipped: %s", type(exc).__name__)


class GateHttp:
    """``httpx.Client`` with a timeout on every request, the write guard and redacted evidence."""

    def __init__(
        self,
        target_name: str,
        base_url: str | None,
        timeout_s: float,
        writes_allowed: bool,
        redactor: Redactor,
        default_headers: Mapping[str, str] | None = None,
        attach: bool = True,
        transport: httpx.BaseTransport | None = None,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        vercel_bypass: VercelBypass | None = None,
        auth: httpx.Auth | None = None,
        use_breaker: bool = True,
    ) -> None:
        """``transport`` replaces the network (tests); the guard and the limits still apply.
        ``vercel_bypass`` sends Vercel's protection bypass header to the env's Vercel hosts;
        ``auth`` keeps a user's token alive (signin.CreatorAuth). ``use_breaker``: an origin
        that stopped answering is given up for the run (``breaker.py``); the watch turns it
        off."""
        self.target_name = target_name
        self.writes_allowed = writes_allowed
        self.redactor = redactor
        self._attach = attach
        self._ring: collections.deque[Exchange] = collections.deque(maxlen=RING_SIZE)
        self._lock = threading.Lock()
        network: httpx.BaseTransport = transport or CoreTransport()
        if vercel_bypass is not None:
            network = BypassTransport(network, vercel_bypass)
        bounded = BoundedTransport(
            network, deadline_s=deadline_s, max_body_bytes=max_body_bytes, use_breaker=use_breaker
        )
        self.transport = GuardedTransport(
            bounded, target_name=target_name, writes_allowed=writes_allowed
        )
        # Bodies are decoded under the size limit by BoundedTransport; ask for them plain.
        headers = {"Accept-Encoding": "identity", **(default_headers or {})}
        self.client = _GateClient(
            base_url=base_url or "",
            timeout=httpx.Timeout(timeout_s),
            headers=headers,
            auth=auth,
            transport=self.transport,
            event_hooks={"response": [self._on_response]},
            # Proxy variables would mount transports that bypass the write guard and the limits.
            trust_env=False,
        )
        self.client.deadline_s = deadline_s

    def transport_guard(self, method: str, url: str) -> None:
        guard(method, url, self.writes_allowed, self.target_name)

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._ring.append(exchange)
        if self._attach:
            _attach(exchange)

    def _on_response(self, response: httpx.Response) -> None:
        response.read()  # the body is needed for the evidence; httpx documents this in hooks
        self._record(render_exchange(response.request, response, self.redactor))

    def last_exchanges(self, n: int = RING_SIZE) -> list[Exchange]:
        with self._lock:
            return list(self._ring)[-n:]

    def describe_last(self, n: int = 1) -> str:
        """The last exchanges as text, for assertion messages."""
        return "\n\n".join(e.text for e in self.last_exchanges(n)) or "(no request sent)"

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            try:
                request = exc.request
            except RuntimeError:  # raised before a request existed (e.g. an invalid URL)
                raise exc from None
            self._record(render_exchange(request, None, self.redactor, exc))
            raise

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GateHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
