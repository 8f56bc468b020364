"""A record of every request the sandbox received, so tests can check what a suite sent."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

# Admin traffic is the test harness talking to the sandbox, not the suite under test.
ADMIN_PREFIX = "/__sandbox"
# The start of each request body is kept, so tests can compare what two runs sent.
BODY_EXCERPT = 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RecordedRequest:
    service: str  # "api" | "gateway" | "frontend"
    method: str
    path: str
    query: str
    at: float
    body: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestRecorder:
    """Thread-safe, bounded list of received requests."""

    def __init__(self, limit: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []
        self._limit = limit

    def record(
        self, service: str, method: str, path: str, query: str = "", body: bytes = b""
    ) -> None:
        if path.startswith(ADMIN_PREFIX):
            return
        excerpt = body[:BODY_EXCERPT].decode("utf-8", errors="replace")
        item = RecordedRequest(service, method.upper(), path, query, time.time(), excerpt)
        with self._lock:
            self._items.append(item)
            if len(self._items) > self._limit:
                del self._items[: len(self._items) - self._limit]

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class RecordingMiddleware:
    """ASGI middleware that records each HTTP request before handing it on."""

    def __init__(self, app: Any, recorder: RequestRecorder, service: str) -> None:
        self.app = app
        self.recorder = recorder
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            body = b""
            if scope["method"] in BODY_METHODS and not scope["path"].startswith(ADMIN_PREFIX):
                body, receive = await _buffered(receive)
            self.recorder.record(self.service, scope["method"], scope["path"], query, body)
        await self.app(scope, receive, send)


async def _buffered(receive: Any) -> tuple[bytes, Any]:
    """The whole request body, and a ``receive`` that hands it to the app again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), _replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body = b"".join(chunks)
            return body, _replay([{"type": "http.request", "body": body}], receive)


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return replay
