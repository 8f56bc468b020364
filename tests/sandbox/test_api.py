"""The healthy reference API end to end, through a sandbox started with start_sandbox()."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from promorang_sandbox import SandboxHandle, UnknownFault

PNG = base64.b64encode(
    base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
).decode()
HELMET = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "strict-transport-security": "max-age=15552000; includeSubDomains",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "x-xss-protection": "0",
}
CONTENT_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "creator_id": str,
    "creator_name": str,
    "creator_avatar": str,
    "platform": str,
    "platform_url": str,
    "title": str,
    "media_url": str,
    "total_shares": int,
    "available_shares": int,
    "engagement_shares_total": int,
    "engagement_shares_remaining": int,
    "share_price": (int, float),
    "current_revenue": (int, float),
    "performance_metrics": str,
    "views_count": int,
    "likes_count": int,
    "comments_count": int,
    "reposts_count": int,
    "is_demo": bool,
    "is_sponsored": bool,
    "created_at": str,
    "updated_at": str,
}
PAYLOAD = {
    "platform": "instagram",
    "title": "Sandbox test post",
    "platform_url": "https://instagram.com/p/sandbox",
    "description": "made by test_api",
    "total_shares": 250,
    "share_price": 0.1,
}


def create(api: httpx.Client, **overrides: Any) -> dict[str, Any]:
    resp = api.post("/api/content", json={**PAYLOAD, **overrides})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def assert_content_shape(content: dict[str, Any]) -> None:
    for key, kind in CONTENT_KEYS.items():
        assert isinstance(content[key], kind), (key, content.get(key))
    assert "creator_username" in content
    assert "description" in content
    uuid.UUID(content["id"])
    assert isinstance(json.loads(content["performance_metrics"]), dict)


def test_health_and_helmet_headers(sandbox: SandboxHandle, api: httpx.Client) -> None:
    resp = api.get("/api/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "OK"
    assert body["service"] == "promorang-api"
    assert re.match(r"\d{4}-\d\d-\d\dT", body["timestamp"])
    for name, value in HELMET.items():
        assert resp.headers[name] == value
    assert "x-powered-by" not in resp.headers


def test_cors_echoes_only_the_frontend_origin(sandbox: SandboxHandle, api: httpx.Client) -> None:
    origin = sandbox.state.frontend_url
    ok = api.get("/api/health", headers={"Origin": origin})
    assert ok.headers["access-control-allow-origin"] == origin
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in ok.headers["vary"]
    other = api.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    pre = api.options(
        "/api/content",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert pre.headers["access-control-allow-headers"] == "content-type,authorization"


def test_unknown_route_malformed_json_and_big_body(
    sandbox: SandboxHandle, api: httpx.Client
) -> None:
    resp = api.get("/api/nope")
    assert resp.status_code == 404
    assert resp.json() == {
        "error": "Not Found",
        "message": "The requested API endpoint does not exist",
    }
    bad = api.post("/api/content", content=b"{bad", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "Internal Server Error", "message": "Something went wrong"}
    big = api.post(
        "/api/content/upload-image",
        content=b'{"x":"' + b"a" * (10 * 1024 * 1024 + 10) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "MISSING_TOKEN"), ({"Authorization": "Bearer not.a.jwt"}, "INVALID_TOKEN")],
)
def test_create_flow_routes_need_a_valid_token(
    sandbox: SandboxHandle, headers: dict[str, str], code: str
) -> None:
    # Reads too, as the platform's newest build requires (fault reads_need_no_auth: B's way).
    with httpx.Client(base_url=sandbox.state.api_url, timeout=10) as client:
        for method, path in [
            ("POST", "/api/content/upload-image"),
            ("POST", "/api/content"),
            ("PUT", f"/api/content/{uuid.uuid4()}"),
            ("DELETE", f"/api/content/{uuid.uuid4()}"),
            ("GET", "/api/content"),
            ("GET", f"/api/content/{uuid.uuid4()}"),
        ]:
            resp = client.request(method, path, json={}, headers=headers)
            assert resp.status_code == 401, (method, path)
            assert resp.json()["code"] == code
        assert client.get("/api/health").status_code == 200


def test_reads_without_a_token_under_reads_need_no_auth(sandbox: SandboxHandle) -> None:
    sandbox.set_faults(["reads_need_no_auth"])
    try:
        with httpx.Client(base_url=sandbox.state.api_url, timeout=10) as client:
            listing = client.get("/api/content", params={"limit": 1})
            assert listing.status_code == 200
            assert isinstance(listing.json(), list)
            missing = client.get(f"/api/content/{uuid.uuid4()}")
            assert missing.status_code == 404
            assert missing.json()["error"] == "Content not found"
    finally:
        sandbox.set_faults([])


def test_upload_image_stores_a_public_object(sandbox: SandboxHandle, api: httpx.Client) -> None:
    resp = api.post(
        "/api/content/upload-image",
        json={"fileType": "image/png", "fileData": PNG, "fileName": "My Demo Photo!.PNG"},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body == {"success": True, "imageUrl": body["imageUrl"]}
    state = sandbox.state
    prefix = f"{state.supabase_url}/storage/v1/object/public/{state.bucket}/"
    assert body["imageUrl"].startswith(prefix)
    key = body["imageUrl"][len(prefix) :]
    assert re.fullmatch(
        rf"uploads/{state.creator_id}/\d{{4}}/\d\d/\d\d/[0-9a-f-]{{36}}-my-demo-photo-.png", key
    ), key
    image = httpx.get(body["imageUrl"], timeout=10)
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/png")
    assert image.content == base64.b64decode(PNG)


def test_upload_without_file_name_uses_content_epoch(
    sandbox: SandboxHandle, api: httpx.Client
) -> None:
    resp = api.post("/api/content/upload-image", json={"fileType": "image/png", "fileData": PNG})
    assert resp.status_code == 201
    assert re.search(r"/[0-9a-f-]{36}-content-\d{13}\.jpg$", resp.json()["imageUrl"])


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, "fileType and fileData are required"),
        ({"fileType": "image/png", "fileData": ""}, "fileType and fileData are required"),
        ({"fileType": "image/png", "fileData": 12}, "Invalid base64 payload"),
        ({"fileType": "image/png", "fileData": PNG, "fileName": 3}, "Invalid base64 payload"),
        ({"fileType": "image/png", "fileData": "!!!"}, "Empty file payload"),
    ],
)
def test_upload_image_rejects_bad_input(
    sandbox: SandboxHandle, api: httpx.Client, payload: dict[str, Any], error: str
) -> None:
    resp = api.post("/api/content/upload-image", json=payload)
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "error": error}


def test_create_mints_and_round_trips(sandbox: SandboxHandle, api: httpx.Client) -> None:
    body = create(api)
    assert body["source"] == "content_items"
    assert body["minted_shares"] == {"minted": True, "table": "content_share_positions"}
    assert body["message"] == "Content created successfully"
    content = body["content"]
    assert_content_shape(content)
    assert content["creator_id"] == sandbox.state.creator_id
    assert content["total_shares"] == content["available_shares"] == 250
    assert content["share_price"] == pytest.approx(0.1)
    got = api.get(f"/api/content/{content['id']}")
    assert got.status_code == 200
    again = got.json()["content"]
    assert_content_shape(again)
    for key in ("id", "title", "platform_url", "share_price", "creator_name", "total_shares"):
        assert again[key] == content[key], key
    positions = httpx.get(
        f"{sandbox.state.supabase_url}/rest/v1/content_share_positions",
        params={"content_id": f"eq.{content['id']}", "select": "holder_id,shares_owned"},
        headers={
            "apikey": sandbox.state.service_role_key,
            "Authorization": f"Bearer {sandbox.state.service_role_key}",
        },
        timeout=10,
    ).json()
    assert len(positions) == 1
    assert positions[0]["holder_id"] == sandbox.state.creator_id
    assert float(positions[0]["shares_owned"]) == 250


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"title": ""}, 400),
        ({"title": 5}, 400),
        ({"total_shares": 1.5}, 400),
        ({"total_shares": 0}, 400),
        ({"total_shares": 1_000_001}, 400),
        ({"share_price": 1000}, 400),
        ({"share_price": -1}, 400),
        ({"share_price": "1"}, 400),
    ],
)
def test_create_validates_input(
    sandbox: SandboxHandle, api: httpx.Client, overrides: dict[str, Any], status: int
) -> None:
    resp = api.post("/api/content", json={**PAYLOAD, **overrides})
    assert resp.status_code == status, resp.text
    assert resp.json()["success"] is False


def test_create_requires_fields(sandbox: SandboxHandle, api: httpx.Client) -> None:
    resp = api.post("/api/content", json={"title": "x"})
    assert resp.status_code == 400
    assert resp.json() == {
        "success": False,
        "error": "Platform, title, and platform_url are required",
    }


def test_list_is_a_paginated_array(sandbox: SandboxHandle, api: httpx.Client) -> None:
    ids = [create(api, title=f"list {i}")["content"]["id"] for i in range(3)]
    page1 = api.get("/api/content", params={"page": 1, "limit": 2}).json()
    page2 = api.get("/api/content", params={"page": 2, "limit": 1}).json()
    assert isinstance(page1, list)
    assert len(page1) == 2
    assert len(page2) == 1
    assert [c["id"] for c in page1] == [ids[2], ids[1]]
    assert page2[0]["id"] == ids[1]
    assert api.get("/api/content/1").json()["content"]["id"] == ids[2]
    typed = api.get("/api/content", params={"type": "nope-platform"}).json()
    assert typed == []


@pytest.mark.parametrize("ident", ["abc", "0", "-1"])
def test_get_invalid_identifier(sandbox: SandboxHandle, api: httpx.Client, ident: str) -> None:
    resp = api.get(f"/api/content/{ident}")
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "error": "Invalid content identifier"}


def test_update_then_delete(sandbox: SandboxHandle, api: httpx.Client) -> None:
    cid = create(api)["content"]["id"]
    put = api.put(f"/api/content/{cid}", json={"title": "Updated", "share_price": 2})
    assert put.status_code == 200
    assert put.json()["source"] == "content_items"
    assert put.json()["message"] == "Content updated successfully"
    got = api.get(f"/api/content/{cid}").json()["content"]
    assert got["title"] == "Updated"
    assert got["share_price"] == pytest.approx(2)
    assert api.put(f"/api/content/{cid}", json={"bogus": 1}).status_code == 400
    assert api.put(f"/api/content/{cid}", json={}).json()["error"] == "No valid fields to update"
    deleted = api.delete(f"/api/content/{cid}")
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "message": f"Content {cid} deleted successfully"}
    assert api.get(f"/api/content/{cid}").status_code == 404
    assert api.delete(f"/api/content/{cid}").status_code == 404


def test_missing_and_invalid_ids(sandbox: SandboxHandle, api: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    for resp in (
        api.get(f"/api/content/{missing}"),
        api.put(f"/api/content/{missing}", json={"title": "x"}),
        api.delete(f"/api/content/{missing}"),
    ):
        assert resp.status_code == 404
        assert resp.json() == {"success": False, "error": "Content not found"}
    assert api.put("/api/content/123", json={"title": "x"}).status_code == 400
    assert api.delete("/api/content/123").status_code == 400


def test_frontend_shell_and_bundle(sandbox: SandboxHandle) -> None:
    state = sandbox.state
    with httpx.Client(base_url=state.frontend_url, timeout=10) as client:
        for path in ("/", "/growth-hub", "/create"):
            page = client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert '<div id="root"></div>' in page.text
            assert page.headers["x-frame-options"] == "DENY"
        src = re.search(r'<script type="module" src="(/assets/index-[0-9a-f]{8}\.js)"', page.text)
        assert src is not None
        bundle = client.get(src.group(1))
        assert bundle.status_code == 200
        assert f'const API_BASE_URL = "{state.api_url}";' in bundle.text
        assert "/api/content/upload-image" in bundle.text
        assert "localhost:3001" not in bundle.text
        assert client.get("/assets/index-deadbeef.js").status_code == 404
        assert client.get(src.group(1) + ".map").status_code == 404


def test_admin_endpoint_needs_the_token_and_records(sandbox: SandboxHandle) -> None:
    state = sandbox.state
    assert httpx.get(f"{state.admin_url}/__sandbox/faults", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert (
        httpx.get(f"{state.admin_url}/__sandbox/requests", headers=wrong, timeout=10).status_code
        == 401
    )
    sandbox.clear_requests()
    httpx.get(f"{state.api_url}/api/health?probe=1", timeout=10)
    httpx.get(f"{state.frontend_url}/create", timeout=10)
    recorded = sandbox.requests()
    assert {
        "service": "api",
        "method": "GET",
        "path": "/api/health",
        "query": "probe=1",
    }.items() <= (recorded[0].items())
    assert any(r["service"] == "frontend" and r["path"] == "/create" for r in recorded)
    assert not any(r["path"].startswith("/__sandbox") for r in recorded)
    with pytest.raises(UnknownFault, match="valid faults"):
        sandbox.set_faults(["no_such_fault"])


def _forged(claims: dict[str, Any]) -> str:
    """An unsigned token (alg "none") carrying ``claims``."""

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_only_the_creator_changes_content(sandbox: SandboxHandle, api: httpx.Client) -> None:
    cid = create(api)["content"]["id"]
    other = {"Authorization": f"Bearer {sandbox.state.other_user_token}"}
    assert sandbox.state.other_user_id not in ("", sandbox.state.creator_id)
    put = api.put(f"/api/content/{cid}", json={"title": "taken over"}, headers=other)
    assert put.status_code == 403, put.text
    assert put.json()["success"] is False
    assert api.delete(f"/api/content/{cid}", headers=other).status_code == 403
    assert api.get(f"/api/content/{cid}").json()["content"]["title"] == PAYLOAD["title"]
    assert api.delete(f"/api/content/{cid}").status_code == 200


def test_unsigned_and_demo_tokens_are_refused(sandbox: SandboxHandle, api: httpx.Client) -> None:
    cid = create(api)["content"]["id"]
    now = int(time.time())
    base = {"role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 600}
    for sub in (sandbox.state.creator_id, "demo-user", "00000000-0000-4000-8000-000000000001"):
        headers = {"Authorization": f"Bearer {_forged({**base, 'sub': sub})}"}
        resp = api.put(f"/api/content/{cid}", json={"title": "forged"}, headers=headers)
        assert resp.status_code == 401, (sub, resp.text)
        assert "x-auth-mode" not in resp.headers
    assert api.get(f"/api/content/{cid}").json()["content"]["title"] == PAYLOAD["title"]


@pytest.mark.parametrize("file_type", ["text/html", "image/svg+xml", "application/pdf"])
def test_upload_refuses_what_is_no_image(
    sandbox: SandboxHandle, api: httpx.Client, file_type: str
) -> None:
    resp = api.post("/api/content/upload-image", json={"fileType": file_type, "fileData": PNG})
    assert resp.status_code == 400
    assert resp.json()["success"] is False


def test_content_reads_back_exactly_as_written(sandbox: SandboxHandle, api: httpx.Client) -> None:
    written = {"share_price": 0.123456789, "platform_url": "p:1", "media_url": ""}
    cid = create(api, **written)["content"]["id"]
    got = api.get(f"/api/content/{cid}").json()["content"]
    assert {k: got[k] for k in written} == written
    assert api.put(f"/api/content/{cid}", json={"share_price": 999.9999}).status_code == 200
    assert api.get(f"/api/content/{cid}").json()["content"]["share_price"] == 999.9999


def test_request_record_keeps_the_start_of_each_body(sandbox: SandboxHandle) -> None:
    sandbox.clear_requests()
    with httpx.Client(base_url=sandbox.state.api_url, timeout=10) as client:
        client.post("/api/content", json={"probe": "x" * 2000})
    recorded = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert recorded[0]["body"].startswith('{"probe":"xxx')
    assert len(recorded[0]["body"]) == 1024
