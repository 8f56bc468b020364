"""The contract's transport: a requests session that refuses, before sending, every write on an
environment without writes and every request the contract does not document; and bounds every
answer as the gate's own client does (``bounded.py``): one total deadline per request, headers
and body included, and a body cap, read in pieces as they arrive (never the whole body first).
Its timeouts count towards the run's bound per origin (``breaker.py``) as the gate's own do.
A 401 to the creator's token that expired meanwhile is sent again, once, with a renewed one, by
the rule of the gate's own client (``signin.CreatorAuth.resend_with``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from promorang_gate.contract.errors import UndocumentedRequest
from promorang_gate.contract.spec import DocumentedPaths
from promorang_gate.target import breaker

__all__ = [
    "BodyTooLarge",
    "DeadlineExceeded",
    "GuardAdapter",
    "OriginUnavailable",
    "TokenRenewal",
    "guarded_session",
]

WriteCheck = Callable[[str, str], None]
#: ``(Authorization header sent, status, body) -> token to resend with, or None``.
Resend = Callable[[str | None, int, bytes], str | None]
_CHUNK = 64 * 1024


class DeadlineExceeded(requests.exceptions.Timeout):
    """No complete response within the request's total deadline."""


class BodyTooLarge(requests.exceptions.ContentDecodingError):
    """The response body is larger than the gate reads (``max_body_bytes``)."""


class OriginUnavailable(requests.exceptions.ConnectionError):
    """The origin stopped answering earlier in the run; nothing more is sent to it."""


def _clamped(timeout: Any, remaining: float) -> tuple[float, float]:
    """requests' (connect, read) timeout, each at most what is left of the deadline."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (
        min(float(connect), remaining) if connect is not None else remaining,
        min(float(read), remaining) if read is not None else remaining,
    )


class GuardAdapter(HTTPAdapter):
    """Refuses before sending: writes on read-only envs, anything the contract omits."""

    def __init__(
        self,
        *,
        api_url: str,
        documented: DocumentedPaths,
        check_write: WriteCheck,
        deadline_s: float = 30.0,
        max_body_bytes: int = 8 * 1024 * 1024,
    ):
        super().__init__()
        self.deadline_s = deadline_s
        self.max_body_bytes = max_body_bytes
        self.api_url = api_url.rstrip("/")
        self.base_path = urlsplit(self.api_url).path
        self.documented = documented
        self.check_write = check_write

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        method, url = str(request.method), str(request.url)
        self.check_write(method, url)  # raises WriteRefused (a skip) on read-only envs
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path[len(self.base_path) :] if parts.path.startswith(self.base_path) else None
        if not self.api_url.startswith(origin) or path is None:
            raise UndocumentedRequest(f"{method} {url} is outside the API under test; not sent")
        if not self.documented.allows(method, path):
            raise UndocumentedRequest(f"{method} {path} is not in the contract; not sent")
        breaker.refuse(url, f"{method} {path}", OriginUnavailable)
        started = time.monotonic()
        kwargs["timeout"] = _clamped(kwargs.get("timeout"), self.deadline_s)
        kwargs["stream"] = True
        try:
            response = super().send(request, *args, **kwargs)
            try:
                self._read_bounded(response, f"{method} {path}", started + self.deadline_s)
            except BaseException:
                response.close()
                raise
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
            # (the body's reads raise urllib3's own timeout: they are not wrapped by requests)
            breaker.timed_out(url, time.monotonic() - started)
            raise
        breaker.answered(url)
        return response

    def _read_bounded(self, response: requests.Response, what: str, deadline: float) -> None:
        """The body, piece by piece as it arrives, within the deadline and the cap."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise BodyTooLarge(
                f"{what}: the body ({declared} bytes) is over the cap of {self.max_body_bytes}"
                " bytes; not read"
            )
        body = bytearray()
        raw = response.raw
        while True:
            if time.monotonic() > deadline:
                raise DeadlineExceeded(f"{what}: no complete answer within {self.deadline_s:g} s")
            chunk = raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > self.max_body_bytes:
                raise BodyTooLarge(
                    f"{what}: the body is over the cap of {self.max_body_bytes} bytes; not read"
                )
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"{what}: no complete answer within {self.deadline_s:g} s")
        # As requests itself stores a body it has read.
        response._content = bytes(body)
        response._content_consumed = True


class TokenRenewal(AuthBase):
    """requests' counterpart of the gate client's auth flow: an answer is shown to ``resend``
    (``CreatorAuth.resend_with``, which alone decides), and sent again once, through the same
    adapter (its guards), when it names a fresh token. Requests sent without a token or with
    another user's are never the creator's: ``resend`` leaves them as answered."""

    def __init__(self, resend: Resend) -> None:
        self.resend = resend

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.register_hook("response", self._answered)
        return request

    def _answered(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        sent = response.request
        header = sent.headers.get("Authorization")
        header = header.decode("latin-1") if isinstance(header, bytes) else header
        fresh = self.resend(header, response.status_code, response.content)
        if fresh is None:
            return response
        again = sent.copy()
        again.headers["Authorization"] = f"Bearer {fresh}"
        response.close()
        # Once: the adapter sends it and runs no hooks, so the second answer stands.
        answer: requests.Response = response.connection.send(again, **kwargs)
        answer.history.append(response)
        answer.request = again
        return answer


def guarded_session(
    api_url: str,
    documented: DocumentedPaths,
    check_write: WriteCheck,
    *,
    deadline_s: float = 30.0,
    max_body_bytes: int = 8 * 1024 * 1024,
    resend: Resend | None = None,
) -> requests.Session:
    """A requests session whose every request passes :class:`GuardAdapter`; with ``resend``,
    a 401 to the creator's expired token is sent again with a renewed one
    (:class:`TokenRenewal`)."""
    session = requests.Session()
    # Like the gate's httpx clients (their own transport), no proxy or CA bundle from the
    # environment: and requests otherwise walks the whole environment on every request.
    session.trust_env = False
    if resend is not None:
        session.auth = TokenRenewal(resend)
    adapter = GuardAdapter(
        api_url=api_url,
        documented=documented,
        check_write=check_write,
        deadline_s=deadline_s,
        max_body_bytes=max_body_bytes,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
