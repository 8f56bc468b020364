"""A deployment that misbehaves on purpose: 127.0.0.1, port 0, records what it received.

Routes (any method unless stated):

- ``/echo``: a JSON body holding each canary in every encoding a target may echo it in;
- ``…/trickle``: headers, then one body byte every 0.2 s, for ever;
- ``/trickle-headers``: the status line, then one header byte every 0.2 s;
- ``/huge?bytes=N&chunked=0|1``: N bytes, produced as they are sent (never held in memory);
- ``/gzip-bomb``: 300 KB of gzip that inflates to 300 MB;
- ``/redirect?to=URL``: 302 to ``URL``;
- ``/slow-redirect?hops=N``: after 0.4 s, 302 to the same with N - 1 (at 0: ``{"ok": true}``);
- ``POST /api/content``: 201 with ``foreign_id`` (the id of a row it did not create);
- ``POST /api/content/upload-image``: 201 with ``foreign_url``;
- anything else: ``{"ok": true}``.

``HostileServer(everywhere="black-hole")`` reads every request and never answers it;
``everywhere="trickle"`` answers every request as ``…/trickle`` does.
"""

from __future__ import annotations

import base64
import contextlib
import html
import http.server
import json
import threading
import urllib.parse
import zlib
from typing import Any

from _recording_server import QuietServer


def encodings(secret: str) -> dict[str, str]:
    """``secret`` in every form the gate must not let through (independent of the redactor)."""
    data = secret.encode()
    forms = {
        "raw": secret,
        "url": urllib.parse.quote(secret, safe=""),
        "url_plus": urllib.parse.quote_plus(secret),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "json": json.dumps(secret)[1:-1],
        "json_u": "".join(f"\\u{ord(c):04x}" for c in secret),
        "repr": repr(secret)[1:-1],
        "repr_bytes": repr(data)[2:-1],
        "xml": html.escape(secret),
    }
    for shift in range(3):
        blob = b"ab"[:shift] + data + b"--tail"
        forms[f"base64_{shift}"] = base64.b64encode(blob).decode()
        forms[f"base64url_{shift}"] = base64.urlsafe_b64encode(blob).decode()
    return forms


def leak_patterns(secret: str) -> list[str]:
    """Substrings whose presence in an output means ``secret`` leaked (base64: its core)."""
    patterns = []
    for name, form in encodings(secret).items():
        patterns.append(form[3:-8] if name.startswith("base64") else form)
    return patterns


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _record(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers)}
        )
        return body

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"content-type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        self._record()
        if self.server.everywhere == "black-hole":
            self.close_connection = True
            self.server.stopping.wait()
            return
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(url.path, query)  # a reset means the gate gave up: that is the point

    def _route(self, path: str, query: dict[str, str]) -> None:
        server = self.server
        if path == "/echo":
            body = {name: encodings(secret) for name, secret in server.canaries.items()}
            self._send(200, json.dumps(body).encode())
        elif path.endswith("/trickle") or server.everywhere == "trickle":
            self.send_response(200)
            self.send_header("content-length", "1000")
            self.end_headers()
            self._drip(b"x" * 1000)
        elif path == "/trickle-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self._drip(b"x-slow: " + b"y" * 100000)
        elif path == "/huge":
            self._huge(int(query.get("bytes", "0")), query.get("chunked") == "1")
        elif path == "/gzip-bomb":
            self._send(200, gzip_bomb(), {"content-encoding": "gzip"})
        elif path == "/redirect":
            self._send(302, b"", {"location": query["to"]})
        elif path == "/slow-redirect" and int(query.get("hops", "0")) > 0:
            if self.server.stopping.wait(0.4):
                return
            self._send(302, b"", {"location": f"/slow-redirect?hops={int(query['hops']) - 1}"})
        elif path == "/api/content" and self.command == "POST":
            content = {"id": server.foreign_id, "title": "whatever was asked"}
            self._send(201, json.dumps({"content": content}).encode())
        elif path == "/api/content/upload-image" and self.command == "POST":
            self._send(201, json.dumps({"success": True, "imageUrl": server.foreign_url}).encode())
        else:
            self._send(200, b'{"ok": true}')

    def _drip(self, data: bytes) -> None:
        for byte in data:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            if self.server.stopping.wait(0.2):
                return

    def _huge(self, size: int, chunked: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        if chunked:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(size))
        self.end_headers()
        block = b"\0" * 65536
        sent = 0
        while sent < size and not self.server.stopping.is_set():
            part = block[: min(len(block), size - sent)]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            sent += len(part)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        return


_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """300 KB of gzip inflating to 300 MB (made once, on first use)."""
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = b"\0" * (1 << 20)
        _BOMB.append(b"".join(packer.compress(zeros) for _ in range(300)) + packer.flush())
    return _BOMB[0]


class _Server(QuietServer):
    daemon_threads = True
    received: list[dict[str, Any]]
    canaries: dict[str, str]
    foreign_id: str
    foreign_url: str
    stopping: threading.Event
    everywhere: str | None


class HostileServer:
    """``HostileServer(canaries={...}, foreign_id=..., foreign_url=..., everywhere=...)``;
    ``url``, ``stop()``."""

    def __init__(
        self,
        canaries: dict[str, str] | None = None,
        foreign_id: str = "",
        foreign_url: str = "",
        everywhere: str | None = None,
    ) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.everywhere = everywhere
        self._server.received = []
        self._server.canaries = dict(canaries or {})
        self._server.foreign_id = foreign_id
        self._server.foreign_url = foreign_url
        self._server.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def received(self) -> list[dict[str, Any]]:
        return self._server.received

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
