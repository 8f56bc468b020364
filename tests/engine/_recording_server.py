"""A local HTTP server for the engine's tests: 127.0.0.1, port 0, records what it received."""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": body.decode("utf-8", "replace"),
            }
        )
        path = urlsplit(self.path).path
        if path == "/__ready":
            payload: Any = {"ok": True}
        else:
            payload = {"path": path, "echo": self.server.echo}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("set-cookie", f"session={self.server.echo or 'none'}")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return


class QuietServer(http.server.ThreadingHTTPServer):
    """A client that hangs up (a deadline, a size cap, a preflight probe) is no server error:
    only other errors reach the test output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Server(QuietServer):
    received: list[dict[str, Any]]
    echo: str


class RecordingServer:
    """Start with ``RecordingServer(echo=...)``; ``url``, ``received``, ``stop()``."""

    def __init__(self, echo: str = "", ready_timeout_s: float = 5.0) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.received = []
        self._server.echo = echo
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._wait_ready(ready_timeout_s)
        self._server.received.clear()

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/__ready", timeout=0.5).raise_for_status()
                return
            except httpx.HTTPError as exc:
                last = exc
        raise RuntimeError(f"test server at {self.url} not ready within {timeout_s}s: {last}")

    @property
    def received(self) -> list[dict[str, Any]]:
        return self._server.received

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
