"""Debian's Chromium (its headless shell where installed), headless, driven over the DevTools
protocol (a WebSocket: the ``websockets`` package the Supabase client already brings). Just
what the report tests need: open a page, wait for a condition, read text, click, take a
screenshot. A fresh profile per browser; every wait polls with a deadline."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from promorang_gate.browser import find_chromium

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
START_TIMEOUT_S = 30.0
TEXT_JS = """
[document, ...[...document.querySelectorAll('iframe')].map(frame => {
  try { return frame.contentDocument; } catch (error) { return null; }
})].map(doc => (doc && doc.body ? doc.body.innerText : '')).join('\\n')
"""


def chromium_binary() -> str | None:
    """The gate's own choice: the headless shell where there is one (a fifth of the CPU)."""
    return find_chromium(os.environ)


class Page:
    """One tab, spoken to in DevTools protocol commands."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:  # events arrive between answers; recv() has its own timeout
            message = json.loads(self._socket.recv(timeout=START_TIMEOUT_S))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout_s: float = 20.0) -> Any:
        """Poll ``expression`` until it is truthy; its value, or TimeoutError with the page."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        text = str(self.evaluate("document.body ? document.body.innerText : ''"))[:2000]
        raise TimeoutError(f"{expression} never held within {timeout_s:g}s; page:\n{text}")

    def text(self) -> str:
        """The page's visible text, with that of same-origin frames (Allure renders a result's
        description in one)."""
        return str(self.evaluate(TEXT_JS))

    def wait_for_text(self, *texts: str, timeout_s: float = 20.0) -> str:
        """Poll until every one of ``texts`` shows; the page's text."""
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(t in text for t in texts):
                return text
            time.sleep(0.1)
        missing = [t for t in texts if t not in text]
        raise TimeoutError(f"{missing} never showed within {timeout_s:g}s; page:\n{text[:3000]}")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path


def _devtools_port(log: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes its DevTools address to stderr (a file: a full pipe would block it)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    text = ""
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", text)
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise RuntimeError("Chromium did not start:\n" + text[-3000:])


@contextmanager
def headless_chromium(width: int = 1400, height: int = 1800) -> Iterator[Page]:
    binary = chromium_binary()
    assert binary is not None, "chromium is not installed (apt-get install -y chromium)"
    base = Path(tempfile.mkdtemp(prefix="gate-chromium-"))
    profile = base / "profile"  # fresh for every browser
    command = [
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    log = base / "stderr.log"
    with log.open("wb") as stderr:
        # A session of its own, ended as a group: Debian's launchers are shell scripts that
        # do not exec the browser (chromium-headless-shell's), so ending the script alone
        # left the browser running, and its page using CPU, after the test.
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
    try:
        port = _devtools_port(log, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        _end_group(process)
        shutil.rmtree(base, ignore_errors=True)


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the browser's whole process group, SIGKILL what is left after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)  # anyone of the group still there?
        except ProcessLookupError:
            break
        process.poll()  # reaps the launcher itself once it has ended
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()
