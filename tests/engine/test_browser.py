"""The browser checks' machinery without a browser: which Chromium, which flags, how a page's
calls are judged, and the redaction of traces."""

from __future__ import annotations

import contextlib
import functools
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from promorang_gate.browser import (
    NO_CHROMIUM,
    OFFLINE_FLAGS,
    ApiCall,
    PageNotServed,
    PageWatch,
    check_chromium_setting,
    find_chromium,
    launch_args,
    open_page,
    redact_zip,
    sign_in_script,
)
from promorang_gate.browser import launch as launch_module
from promorang_gate.browser.launch import HEADLESS_SHELL
from promorang_gate.errors import ConfigError
from promorang_gate.secrets.redaction import Redactor

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjcmVhdG9yIn0.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture
def fake_chromium(tmp_path: Path) -> str:
    path = tmp_path / "chromium"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_chromium_is_the_setting_then_the_path_then_playwrights_own(fake_chromium: str) -> None:
    on_path = {"chromium-browser": "/usr/bin/chromium-browser"}
    assert find_chromium({"GATE_CHROMIUM": fake_chromium}, on_path.get) == fake_chromium
    assert find_chromium({}, on_path.get, bundled=fake_chromium) == "/usr/bin/chromium-browser"
    assert find_chromium({}, lambda _: None, bundled=fake_chromium) == fake_chromium
    assert find_chromium({}, lambda _: None, bundled="/nowhere/chrome") is None


def test_a_headless_run_takes_the_headless_shell_and_a_headed_one_the_browser(
    fake_chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = {"chromium": "/usr/bin/chromium", HEADLESS_SHELL: "/usr/bin/" + HEADLESS_SHELL}
    assert find_chromium({}, on_path.get) == "/usr/bin/chromium-headless-shell"
    assert find_chromium({}, on_path.get, headless=False) == "/usr/bin/chromium"
    assert find_chromium({"GATE_CHROMIUM": fake_chromium}, on_path.get) == fake_chromium
    monkeypatch.setattr(
        launch_module, "find_chromium", functools.partial(find_chromium, which=on_path.get)
    )
    assert launch_args({}, "chromium", {})["executable_path"] == on_path[HEADLESS_SHELL]
    headed = launch_args({"headless": False}, "chromium", {})  # what --headed gives
    assert headed["executable_path"] == "/usr/bin/chromium"


def test_a_chromium_setting_naming_nothing_is_a_usage_error(fake_chromium: str) -> None:
    check_chromium_setting({"GATE_CHROMIUM": fake_chromium})
    check_chromium_setting({})
    with pytest.raises(ConfigError, match=r"^GATE_CHROMIUM=/nowhere: no executable there"):
        check_chromium_setting({"GATE_CHROMIUM": "/nowhere"})


def test_launch_uses_the_system_chromium_offline(
    fake_chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch_module, "_is_root", lambda: True)
    base = {"headless": False, "args": ["--lang=en"]}  # what --headed gives
    options = launch_args(base, "chromium", {"GATE_CHROMIUM": fake_chromium})
    assert options["executable_path"] == fake_chromium
    assert options["headless"] is False
    assert options["args"] == ["--lang=en", *OFFLINE_FLAGS, "--no-sandbox"]
    monkeypatch.setattr(launch_module, "_is_root", lambda: False)
    assert (
        "--no-sandbox" not in launch_args({}, "chromium", {"GATE_CHROMIUM": fake_chromium})["args"]
    )


def test_a_browser_channel_is_left_to_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch_module, "find_chromium", lambda *a, **k: None)
    options = launch_args({"channel": "chrome"}, "chromium", {})
    assert options["channel"] == "chrome"
    assert "executable_path" not in options
    assert launch_args({"slow_mo": 5}, "firefox", {}) == {"slow_mo": 5}


def test_no_chromium_skips_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch_module, "find_chromium", lambda *a, **k: None)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium") as skipped:
        launch_args({}, "chromium", {})
    assert str(skipped.value) == NO_CHROMIUM


def test_the_session_is_set_on_the_frontends_origin_only() -> None:
    script = sign_in_script("https://App.example.com/some/path", TOKEN)
    assert script == (
        'if (location.origin === "https://app.example.com") '
        f"localStorage.setItem('authToken', \"{TOKEN}\");"
    )


def _response(status: int, content_type: str = "application/json") -> Any:
    return SimpleNamespace(status=status, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("via", "response", "failure", "expected"),
    [
        ("api", _response(201), None, None),
        ("rewrite", _response(204, ""), None, None),
        ("api", _response(404), None, "answered 404"),
        ("rewrite", _response(200, "text/html; charset=utf-8"), None, "not the API's JSON"),
        ("api", None, "net::ERR_FAILED", "failed in the browser: net::ERR_FAILED"),
        ("api", None, None, "got no answer"),
        ("elsewhere", _response(200), None, "went outside the environment"),
    ],
)
def test_an_api_call_fails_the_page_when(
    via: str, response: Any, failure: str | None, expected: str | None
) -> None:
    call = ApiCall("POST", "http://h/api/content", via, request=None, response=response)  # type: ignore[arg-type]
    call.failure = failure
    problem = call.problem()
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith("POST http://h/api/content ")
        assert expected in problem


class _Request:
    """Hashable like Playwright's requests (the watch keys its record by them)."""

    def __init__(self, url: str, method: str = "GET") -> None:
        self.url = url
        self.method = method


def test_the_watch_tells_api_rewrite_and_elsewhere_apart() -> None:
    target = SimpleNamespace(
        name="staging",
        api_url="https://api.example.com",
        frontend_url="https://app.example.com",
        supabase_url="https://db.example.co",
        writes_allowed=True,
    )
    watch = PageWatch(target)  # type: ignore[arg-type]
    for url in (
        "https://api.example.com/api/health",
        "https://app.example.com/api/health",
        "http://localhost:3001/api/content",
        "https://app.example.com/assets/x.js",
    ):
        watch._on_request(_Request(url))  # type: ignore[arg-type]
    assert [c.via for c in watch.calls] == ["api", "rewrite", "elsewhere"]
    assert watch._outside("https://images.unsplash.com/x.jpg")
    assert not watch._outside("https://db.example.co/storage/v1/object/public/b/x.png")
    assert not watch._outside("data:image/png;base64,AAAA")


def test_a_trace_is_redacted_member_by_member(tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    with zipfile.ZipFile(trace, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("trace.network", f'{{"name":"Authorization","value":"Bearer {TOKEN}"}}\n')
        z.writestr("resources/page.png", b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    raw = trace.read_bytes()
    assert TOKEN.encode() not in raw, "compressed: the file-level redaction cannot see it"
    assert redact_zip(trace, Redactor([TOKEN])) is True
    with zipfile.ZipFile(trace) as z:
        assert TOKEN not in z.read("trace.network").decode()
        assert z.read("resources/page.png").startswith(b"\x89PNG")
    assert redact_zip(trace, Redactor([TOKEN])) is False


THIRD_PARTIES = """<!doctype html><html><head>
<link rel="stylesheet" href="https://fonts.example.com/css?family=Inter">
<script src="https://analytics.example.com/tag.js"></script>
</head><body><div id="root">app</div>
<script>fetch("https://analytics.example.com/collect", {method: "POST"});</script>
</body></html>"""
FRONTEND = "http://127.0.0.1:9"


@contextlib.contextmanager
def watched_page(name: str, writes_allowed: bool, api_url: str) -> Iterator[tuple[Any, PageWatch]]:
    """A page of a Chromium on the offline flags, in a context ``PageWatch`` watches for an env
    whose frontend is FRONTEND; skips without a Chromium."""
    chromium = find_chromium(os.environ)
    if chromium is None:
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    target = SimpleNamespace(
        name=name,
        api_url=api_url,
        frontend_url=FRONTEND,
        supabase_url="http://127.0.0.1:7",
        writes_allowed=writes_allowed,
    )
    watch = PageWatch(target)  # type: ignore[arg-type]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=[*OFFLINE_FLAGS, "--no-sandbox"]
        )
        try:
            context = browser.new_context()
            watch.attach(context)
            yield context.new_page(), watch
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("writes_allowed", [True, False], ids=["writable", "read-only"])
def test_third_party_resources_get_an_empty_answer_and_no_console_error(
    writes_allowed: bool,
) -> None:
    """A healthy frontend loading fonts or analytics from elsewhere must not fail the browser
    checks: the gate answers them locally, and nothing it did shows as a page error. On a
    read-only env a beacon POSTed to a third party is no refused write either."""
    with watched_page("staging", writes_allowed, "http://127.0.0.1:8") as (page, watch):
        page.route(f"{FRONTEND}/", lambda route: route.fulfill(body=THIRD_PARTIES))
        page.goto(f"{FRONTEND}/", wait_until="networkidle")
    assert len(watch.answered_locally) == 3, watch.answered_locally
    assert watch.console_errors == []
    assert watch.refused_writes == []


# B's form leaves 2 s after its create's answer; this page 1 s after (at 200 ms, with both
# cores busy, the answer's event reached the watch only after the page had left).
LEAVES_AFTER_CREATE = """<!doctype html><html><body><script>
fetch("/api/content", {method: "POST", body: "{}"}).then((r) => r.json())
  .then(() => setTimeout(() => { location.href = "/content/undefined"; }, 1000));
</script></body></html>"""


@pytest.mark.slow
def test_a_writes_answer_is_kept_after_the_page_navigates_away() -> None:
    """Build B's form leaves for /content/undefined after its create: the browser then no
    longer gives the create's answer, and the check would miss the id of what it created (a row
    left behind). The watch keeps a write's answer as it arrives."""
    created = {"success": True, "content": {"id": "c-1"}}
    with watched_page("local", True, FRONTEND) as (page, watch):
        page.route(f"{FRONTEND}/create", lambda route: route.fulfill(body=LEAVES_AFTER_CREATE))
        page.route(f"{FRONTEND}/api/content", lambda route: route.fulfill(status=201, json=created))
        page.route(f"{FRONTEND}/content/undefined", lambda route: route.fulfill(body="gone"))
        page.goto(f"{FRONTEND}/create")
        page.wait_for_url("**/content/undefined")
        [create] = watch.calls_to("POST", "/api/content")
        assert create.answer_json() == created


@pytest.mark.slow
def test_a_page_answered_with_a_server_error_fails_at_once_with_its_status() -> None:
    """Under frontend_down each browser check waited its whole timeout for a heading the 503
    page never shows, then named the heading; now the status, at once. A 404 page goes on: a
    static host without rewrites serves the app from its 404 page."""
    with watched_page("local", True, FRONTEND) as (page, _):
        page.route(f"{FRONTEND}/growth-hub", lambda route: route.fulfill(status=503, body="down"))
        page.route(f"{FRONTEND}/create", lambda route: route.fulfill(status=404, body="<h1>app"))
        with pytest.raises(PageNotServed, match=r"^GET /growth-hub answered 503: "):
            open_page(page, f"{FRONTEND}/growth-hub")
        open_page(page, f"{FRONTEND}/create")
        assert page.locator("h1").inner_text() == "app"
