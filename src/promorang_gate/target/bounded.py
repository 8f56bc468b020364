"""Bounded HTTP: a total deadline and a body size limit on every request of ``GateHttp``.

httpx's timeouts bound each read; a server that trickles one byte just inside the read timeout
holds a request forever. Here every socket operation of a request (connect, TLS, write, each
read of headers and body) waits at most until the request's deadline, so a request ends within
its deadline whatever the server does. Bodies are counted as they arrive (after decompression,
which happens here): a body over the limit fails at once, without being buffered.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from promorang_gate.target import breaker

__all__ = [
    "BodyTooLarge",
    "BoundedTransport",
    "CoreTransport",
    "DeadlineExceeded",
    "OriginUnavailable",
    "refuse_given_up",
]

_local = threading.local()
_DECODED = {"gzip", "x-gzip", "deflate"}


class DeadlineExceeded(httpx.TimeoutException):
    """No complete response within the request's total deadline."""


class BodyTooLarge(httpx.TransportError):
    """The response body is larger than the gate reads (``max_body_bytes``)."""


class OriginUnavailable(httpx.TransportError):
    """The origin stopped answering earlier in the run; nothing more is sent to it."""


def refuse_given_up(url: str, what: str) -> None:
    """Raises ``OriginUnavailable`` at once when ``url``'s origin was given up this run: a
    client whose every request would be refused so is not built (nor its libraries imported)."""
    breaker.refuse(url, what, OriginUnavailable)


def _what(request: httpx.Request) -> str:
    return f"{request.method} {urlsplit(str(request.url)).path or '/'}"


# -- the deadline of the request running in this thread ------------------------------------------


@contextlib.contextmanager
def _deadline_scope(deadline: float) -> Iterator[None]:
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


@contextlib.contextmanager
def one_deadline(deadline_s: float) -> Iterator[None]:
    """Requests sent inside share one deadline from now (a request and its redirects): each
    ``BoundedTransport`` keeps the earlier of its own and this one."""
    active: float | None = getattr(_local, "deadline", None)
    deadline = time.monotonic() + deadline_s
    with _deadline_scope(deadline if active is None else min(active, deadline)):
        yield


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the running request's deadline."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# -- httpcore under httpx ------------------------------------------------------------------------

_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """httpcore's exceptions as httpx's (what ``httpx.HTTPTransport`` does)."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise _map(exc) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise _map(exc) from exc


def _map(exc: Exception) -> httpx.HTTPError:
    for core, mapped in _ERRORS:
        if isinstance(exc, core):
            return mapped(str(exc))
    return httpx.TransportError(str(exc))


class _CoreStream(httpx.SyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _mapped():
            yield from self._inner

    def close(self) -> None:
        with _mapped():
            self._inner.close()


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client of the process: building one reads the CA bundle, a
    tenth of a second or more each time, and a gate run makes half a dozen clients."""
    return httpx.create_ssl_context()


# How long an idle connection is reused. Node's and uvicorn's servers close theirs after 5 s
# idle; a request sent on one just as the server closes it fails with a ReadError (seen under
# load: a healthy target's upload counted as failed). Below that, this pool never races them
# (the contract's requests session resends on a dropped connection itself, in schemathesis).
KEEPALIVE_EXPIRY_S = 4.0


class CoreTransport(httpx.BaseTransport):
    """``httpx.HTTPTransport`` on a network backend that honours the request deadline."""

    def __init__(self) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=shared_ssl_context(),
            network_backend=_DeadlineBackend(),
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped():
            response = self._pool.handle_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CoreStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


# -- the limits ----------------------------------------------------------------------------------


class _BoundedStream(httpx.SyncByteStream):
    """The body as it arrives: within the deadline, decoded here, counted against the limit."""

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        request: httpx.Request,
        deadline: float,
        limits: tuple[float, int],
        encoding: str | None,
        started: float | None = None,
    ) -> None:
        self._inner = inner
        # When the request was sent, for the breaker (None: the breaker is not told).
        self._started = started
        self._request = request
        self._deadline = deadline
        self._deadline_s, self._max_bytes = limits
        # 47: zlib detects the gzip or zlib header itself (servers differ on "deflate").
        self._decoder = zlib.decompressobj(47) if encoding else None

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(
            f"{_what(self._request)}: the response body exceeds {self._max_bytes} bytes"
            " (max_body_bytes); the deployment answered more than the check reads",
            request=self._request,
        )

    def _decode(self, chunk: bytes | None, room: int) -> bytes:
        """``chunk`` decoded (None: the end), at most ``room + 1`` bytes of it."""
        if self._decoder is None:
            return chunk or b""
        try:
            if chunk is None:
                return self._decoder.flush(room + 1)
            out = self._decoder.decompress(chunk, room + 1)
        except zlib.error as exc:
            raise httpx.DecodingError(
                f"{_what(self._request)}: the compressed body is corrupt ({exc})",
                request=self._request,
            ) from None
        if self._decoder.unconsumed_tail:  # more than the limit inflates from this chunk
            raise self._too_large()
        return out

    def _next(self, iterator: Iterator[bytes]) -> bytes | None:
        try:
            with _deadline_scope(self._deadline):
                return next(iterator)
        except StopIteration:
            if self._started is not None:
                breaker.answered(str(self._request.url))
            return None
        except httpx.TimeoutException as exc:
            self._timed_out()
            if time.monotonic() >= self._deadline - 0.01:
                raise self._late() from exc
            raise

    def _timed_out(self) -> None:
        if self._started is not None:
            breaker.timed_out(str(self._request.url), time.monotonic() - self._started)
            self._started = None  # told once per request

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{_what(self._request)}: no complete response within the request deadline of"
            f" {self._deadline_s:g}s",
            request=self._request,
        )

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        iterator = iter(self._inner)
        while True:
            chunk = self._next(iterator)
            data = self._decode(chunk, self._max_bytes - received)
            received += len(data)
            if received > self._max_bytes:
                raise self._too_large()
            if chunk is not None and time.monotonic() > self._deadline:
                self._timed_out()
                raise self._late()
            if data:
                yield data
            if chunk is None:
                return

    def close(self) -> None:
        self._inner.close()


class BoundedTransport(httpx.BaseTransport):
    """Wraps a transport: a total deadline per request and a maximum (decoded) body size.

    The deadline cuts every socket wait only with ``CoreTransport`` underneath; any other
    transport still gets the checks between chunks."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        deadline_s: float,
        max_body_bytes: int,
        use_breaker: bool = True,
    ):
        """``use_breaker``: refuse origins given up this run and report timeouts (``breaker``);
        off for the watch, which outlives an outage by design."""
        self._inner = inner
        self.deadline_s = deadline_s
        self.max_body_bytes = max_body_bytes
        self.use_breaker = use_breaker

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if self.use_breaker:
            breaker.refuse(
                url, _what(request), functools.partial(OriginUnavailable, request=request)
            )
        started = time.monotonic()
        deadline = started + self.deadline_s
        shared: float | None = getattr(_local, "deadline", None)  # set by ``one_deadline``
        if shared is not None:
            deadline = min(deadline, shared)
        try:
            with _deadline_scope(deadline):
                response = self._inner.handle_request(request)
        except httpx.TimeoutException as exc:
            if self.use_breaker:
                breaker.timed_out(url, time.monotonic() - started)
            if time.monotonic() >= deadline - 0.01:
                raise DeadlineExceeded(
                    f"{_what(request)}: no response within the request deadline of"
                    f" {self.deadline_s:g}s",
                    request=request,
                ) from exc
            raise
        return self._bounded(request, response, deadline, started if self.use_breaker else None)

    def _bounded(
        self,
        request: httpx.Request,
        response: httpx.Response,
        deadline: float,
        started: float | None,
    ) -> httpx.Response:
        declared = response.headers.get("content-length", "")
        has_body = request.method != "HEAD" and response.status_code not in (204, 304)
        if has_body and declared.isdigit() and int(declared) > self.max_body_bytes:
            response.close()
            raise BodyTooLarge(
                f"{_what(request)}: the response body of {int(declared)} bytes exceeds"
                f" {self.max_body_bytes} bytes (max_body_bytes); it was not read",
                request=request,
            )
        headers = httpx.Headers(response.headers)
        encoding = headers.get("content-encoding", "").strip().lower() or None
        if encoding in ("identity", None):
            encoding = None
        elif encoding in _DECODED:
            # Decoded here, under the limit: a small compressed body must not inflate unseen.
            del headers["content-encoding"]
            headers.pop("content-length", None)
        else:
            response.close()
            raise httpx.DecodingError(
                f"{_what(request)}: the response is {encoding}-encoded although the gate asked"
                " for identity; it cannot be read within the body limit",
                request=request,
            )
        assert isinstance(response.stream, httpx.SyncByteStream)
        stream = _BoundedStream(
            response.stream,
            request,
            deadline,
            (self.deadline_s, self.max_body_bytes),
            encoding,
            started,
        )
        return httpx.Response(
            status_code=response.status_code,
            headers=headers,
            stream=stream,
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()
