"""The sandbox frontend: its builds, the host's /api rewrite (relative mode), the Growth Hub's API,
and a headless screenshot of /create showing a usable, labelled form."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from promorang_gate.browser import find_chromium, launch_args, sign_in_script
from promorang_sandbox import SandboxHandle
from promorang_sandbox.frontend import BUILD_PATCHES, WRONG_API, build_for

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "reports" / "screenshots" / "sandbox-create-form.png"
FORM_LABELS = (
    "Image",
    "Title",
    "Platform",
    "Platform URL",
    "Description",
    "Total Shares",
    "Share Price",
)


def _code(api_url: str, mode: Any, faults: tuple[str, ...] = ()) -> str:
    app = build_for(api_url, mode, faults)
    return app.assets[app.bundle_path][0].decode()


def test_builds_follow_the_mode_and_the_faults() -> None:
    api = "http://127.0.0.1:1234"
    assert 'const API_BASE_URL = "http://127.0.0.1:1234";' in _code(api, "absolute")
    assert 'const API_BASE_URL = "";' in _code(api, "relative")
    for mode in ("absolute", "relative"):
        wrong = _code(api, mode, ("frontend_wrong_api",))
        assert f'const API_BASE_URL = "{WRONG_API}";' in wrong
    healthy = _code(api, "absolute")
    for name, (line, faulty) in BUILD_PATCHES.items():
        assert line in healthy
        assert faulty not in healthy
        broken = _code(api, "absolute", (name,))
        assert faulty in broken
        assert line not in broken
    builds = [(), *[(n,) for n in BUILD_PATCHES]]
    paths = {build_for(api, "absolute", faults).bundle_path for faults in builds}
    assert len(paths) == 1 + len(BUILD_PATCHES), "each build has its own hashed bundle name"


def test_relative_host_forwards_api_calls(relative_sandbox: SandboxHandle) -> None:
    state = relative_sandbox.state
    auth = {"Authorization": f"Bearer {state.creator_token}"}
    with httpx.Client(base_url=state.frontend_url, headers=auth, timeout=15) as client:
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json()["service"] == "promorang-api"
        payload = {"platform": "tiktok", "title": "via rewrite", "platform_url": "https://t.co/x"}
        created = client.post("/api/content", json=payload)
        assert created.status_code == 201, created.text
        content_id = created.json()["content"]["id"]
        try:
            direct = httpx.get(
                f"{state.api_url}/api/content/{content_id}", headers=auth, timeout=10
            )
            assert direct.json()["content"]["title"] == "via rewrite"
            missing = client.get("/api/content/00000000-0000-4000-8000-000000000000")
            assert missing.status_code == 404
            assert missing.json() == {"success": False, "error": "Content not found"}
        finally:
            assert client.delete(f"/api/content/{content_id}").status_code == 200


def test_relative_host_without_rewrite_answers_with_the_app(
    relative_sandbox: SandboxHandle,
) -> None:
    relative_sandbox.set_faults(["frontend_api_unrouted"])
    try:
        with httpx.Client(base_url=relative_sandbox.state.frontend_url, timeout=15) as client:
            health = client.get("/api/health")
            assert health.status_code == 200
            assert health.headers["content-type"].startswith("text/html")
            assert 'id="root"' in health.text
            assert client.post("/api/content", json={}).status_code == 404
            assert client.post("/create").status_code == 405
    finally:
        relative_sandbox.set_faults([])


def test_growth_hub_routes_answer_the_signed_in_creator(
    sandbox: SandboxHandle, api: httpx.Client
) -> None:
    me = api.get("/api/users/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == sandbox.state.creator_id
    for path, key in (
        ("/api/growth/channels", "channels"),
        ("/api/growth/staking", "positions"),
        ("/api/growth/funding/projects", "projects"),
        ("/api/growth/shield/policies", "policies"),
    ):
        resp = api.get(path)
        assert resp.status_code == 200, path
        body = resp.json()
        assert body["success"] is True
        assert isinstance(body[key], list), body
        anonymous = httpx.get(sandbox.state.api_url + path, timeout=10)
        assert anonymous.status_code == 401, path


def _chromium_or_skip() -> str:
    path = find_chromium(os.environ)
    if path is None:
        pytest.skip("no Chromium: apt-get install chromium (Debian/Ubuntu)")
    return path


@pytest.mark.slow
def test_create_page_shows_a_usable_labelled_form(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A headless screenshot of /create, kept as reports/screenshots/sandbox-create-form.png."""
    from playwright.sync_api import sync_playwright

    options = launch_args({}, "chromium", {"GATE_CHROMIUM": _chromium_or_skip()})
    state = sandbox.state
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        try:
            context = browser.new_context()
            context.add_init_script(script=sign_in_script(state.frontend_url, state.creator_token))
            page = context.new_page()
            page.goto(f"{state.frontend_url}/create")
            for label in FORM_LABELS:
                field = page.get_by_label(label, exact=True)
                assert field.is_visible(), f"no visible field labelled {label!r}"
                assert field.is_enabled(), f"the field {label!r} is disabled"
            assert page.get_by_label("Image", exact=True).get_attribute("type") == "file"
            accepted = page.get_by_label("Image", exact=True).get_attribute("accept") or ""
            assert set(accepted.split(",")) == IMAGE_TYPES
            assert page.get_by_role("button", name="Create Content").is_enabled()
            shot = tmp_path / "create.png"
            page.screenshot(path=shot, full_page=True)
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)
