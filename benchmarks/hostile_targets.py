"""Peak memory and time to verdict of a whole gate run against hostile targets.

Each scenario points every URL of a writable env (``staging``, the ``promotion`` gate) at a
local server that misbehaves, runs ``pytest --env staging`` as CI would (default settings), and
prints the run's wall time, its exit code and the peak RSS of the gate's process:

- ``black-hole``: accepts connections, never answers;
- ``trickle``: answers headers, then one body byte every 2 s, for ever;
- ``1gb-body``: answers every request with a 1 GB body (chunked, produced as sent).

Targets (issue 21): a verdict (``block``, exit 1) or a usage error (exit 4, the preflight) within
60 s, and never more than 300 MB.

    .venv/bin/python benchmarks/hostile_targets.py [--only NAME] [--limit-s 600]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 60.0
TARGET_MB = 300.0
GB = 1024**3


class _Handler(socketserver.BaseRequestHandler):
    mode = "black-hole"

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(300)
        try:
            sock.recv(65536)
            if self.mode == "black-hole":
                while sock.recv(65536):
                    pass
            elif self.mode == "trickle":
                sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n")
                while not self.server.stopping:  # type: ignore[attr-defined]
                    sock.sendall(b" ")
                    time.sleep(2.0)
            else:
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                chunk = b" " * 65536
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                for _ in range(GB // len(chunk)):
                    sock.sendall(frame)
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    stopping = False


def _serve(mode: str) -> _Server:
    handler = type("Handler", (_Handler,), {"mode": mode})
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(mode: str, limit_s: float) -> tuple[float, int | None, float]:
    server = _serve(mode)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        env[f"GATE_STAGING_{key}"] = url
    env["GATE_STAGING_SERVICE_ROLE_KEY"] = "bench-service-role-key-0123456789"
    env["GATE_STAGING_CREATOR_TOKEN"] = "bench-creator-token-0123456789"
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "pytest", "--env", "staging", "-q", "-p", "no:cacheprovider",
            f"--gate-reports={tmp}/reports",
        ]  # fmt: skip
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            code: int | None = process.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        took = time.monotonic() - started
    server.stopping = True
    server.shutdown()
    server.server_close()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return took, code, peak_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["black-hole", "trickle", "1gb-body"])
    parser.add_argument("--limit-s", type=float, default=600.0)
    args = parser.parse_args()
    failed = False
    for mode in [args.only] if args.only else ["black-hole", "trickle", "1gb-body"]:
        took, code, peak_mb = run(mode, args.limit_s)
        ok = code in (1, 4) and took <= TARGET_S and peak_mb <= TARGET_MB
        failed |= not ok
        shown = "killed" if code is None else str(code)
        print(
            f"{mode:10} time to verdict {took:6.1f} s (target {TARGET_S:g} s)  exit {shown:6}"
            f"  peak RSS {peak_mb:6.0f} MB (target {TARGET_MB:g} MB)  {'ok' if ok else 'OVER'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
