"""Every fault shows its documented symptom (docs/faults.md), and the healthy sandbox does not."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from promorang_sandbox import FAULTS, SandboxHandle

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6"
    "kgAAAABJRU5ErkJggg=="
)
TOTAL_SHARES = 120
PAYLOAD: dict[str, Any] = {
    "platform": "tiktok",
    "title": "fault probe",
    "platform_url": "https://tiktok.com/@sandbox/1",
    "total_shares": TOTAL_SHARES,
    "share_price": 0.2,
}
Probe = Callable[[SandboxHandle, httpx.Client], bool]


def _service(handle: SandboxHandle) -> dict[str, str]:
    key = handle.state.service_role_key
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def _upload(api: httpx.Client) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = api.post(
        "/api/content/upload-image",
        json={"fileType": "image/png", "fileData": PNG, "fileName": "probe.png"},
    )
    return resp, time.monotonic() - started


def _serves(url: str) -> bool:
    resp = httpx.get(url, timeout=10)
    return resp.status_code == 200 and resp.content == base64.b64decode(PNG)


def _fell_back(handle: SandboxHandle, api: httpx.Client) -> str | None:
    """The fallbackReason of an upload, or None when it stored the object."""
    resp, _ = _upload(api)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    if body.get("fallback") is True:
        assert body["imageUrl"].startswith("https://images.unsplash.com/")
        return str(body["fallbackReason"])
    assert "fallback" not in body
    return None


def _created(api: httpx.Client) -> dict[str, Any]:
    resp = api.post("/api/content", json=PAYLOAD)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _positions(handle: SandboxHandle, content_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{handle.state.supabase_url}/rest/v1/content_share_positions",
        params={"content_id": f"eq.{content_id}", "select": "shares_owned"},
        headers=_service(handle),
        timeout=10,
    )
    if resp.status_code != 200:
        return []
    rows: list[dict[str, Any]] = resp.json()
    return rows


# --- one probe per fault: True when the symptom shows ---------------------------------------


def health_down(h: SandboxHandle, api: httpx.Client) -> bool:
    resp = api.get("/api/health")
    return resp.status_code == 503 and resp.json() == {"status": "down"}


def health_slow(h: SandboxHandle, api: httpx.Client) -> bool:
    try:
        api.get("/api/health", timeout=2.0)
    except httpx.TimeoutException:
        return True
    return False


def upload_fallback(h: SandboxHandle, api: httpx.Client) -> bool:
    return _fell_back(h, api) == "fetch failed"


def upload_500(h: SandboxHandle, api: httpx.Client) -> bool:
    resp, _ = _upload(api)
    return resp.status_code == 500 and resp.json() == {
        "success": False,
        "error": "Failed to upload image",
    }


def upload_slow(h: SandboxHandle, api: httpx.Client) -> bool:
    resp, took = _upload(api)
    assert resp.status_code == 201
    assert "fallback" not in resp.json()
    return took >= 1.8


def _stored_but_not_served(h: SandboxHandle, api: httpx.Client) -> bool:
    resp, _ = _upload(api)
    assert resp.status_code == 201
    body = resp.json()
    assert "fallback" not in body
    assert body["imageUrl"].startswith(f"{h.state.supabase_url}/storage/v1/object/public/")
    return not _serves(body["imageUrl"])


upload_private_url = _stored_but_not_served
bucket_private = _stored_but_not_served


def bucket_missing(h: SandboxHandle, api: httpx.Client) -> bool:
    buckets = httpx.get(
        f"{h.state.supabase_url}/storage/v1/bucket", headers=_service(h), timeout=10
    ).json()
    gone = "content-media" not in {b["id"] for b in buckets}
    reason = _fell_back(h, api)
    return gone and reason is not None and "not found" in reason.lower()


def storage_insert_denied(h: SandboxHandle, api: httpx.Client) -> bool:
    return _fell_back(h, api) is not None


def storage_read_denied(h: SandboxHandle, api: httpx.Client) -> bool:
    with psycopg.connect(h.state.database_url) as conn:
        row = conn.execute(
            "select has_table_privilege('service_role', 'storage.objects', 'select')"
        ).fetchone()
    assert row is not None
    listed = httpx.post(
        f"{h.state.supabase_url}/storage/v1/object/list/{h.state.bucket}",
        json={"prefix": "", "limit": 10},
        headers=_service(h),
        timeout=10,
    )
    return not row[0] and listed.status_code >= 400


def mint_skipped(h: SandboxHandle, api: httpx.Client) -> bool:
    minted = _created(api)["minted_shares"]
    return bool(minted == {"minted": False, "reason": "Invalid context for share minting"})


def mint_wrong_shares(h: SandboxHandle, api: httpx.Client) -> bool:
    body = _created(api)
    rows = _positions(h, body["content"]["id"])
    assert len(rows) == 1
    return float(rows[0]["shares_owned"]) == TOTAL_SHARES - 1


def mint_duplicated(h: SandboxHandle, api: httpx.Client) -> bool:
    body = _created(api)
    return len(_positions(h, body["content"]["id"])) == 2


def positions_table_missing(h: SandboxHandle, api: httpx.Client) -> bool:
    minted = _created(api)["minted_shares"]
    with psycopg.connect(h.state.database_url) as conn:
        row = conn.execute(
            "select to_regclass('public.content_share_positions') is null,"
            " not exists (select 1 from supabase_migrations.schema_migrations"
            " where version = '202510290101')"
        ).fetchone()
    assert row is not None
    return (
        minted["minted"] is False
        and "Could not find the table 'public.content_share_positions'" in minted["reason"]
        and row[0]
        and row[1]
    )


def update_not_persisted(h: SandboxHandle, api: httpx.Client) -> bool:
    cid = _created(api)["content"]["id"]
    put = api.put(f"/api/content/{cid}", json={"title": "changed"})
    assert put.status_code == 200
    assert put.json()["content"]["title"] == "changed"
    return bool(api.get(f"/api/content/{cid}").json()["content"]["title"] != "changed")


def delete_noop(h: SandboxHandle, api: httpx.Client) -> bool:
    cid = _created(api)["content"]["id"]
    assert api.delete(f"/api/content/{cid}").status_code == 200
    return api.get(f"/api/content/{cid}").status_code == 200


def contract_drift(h: SandboxHandle, api: httpx.Client) -> bool:
    content = api.get("/api/content/1").json()["content"]
    return "availableShares" in content and "available_shares" not in content


def bad_input_500(h: SandboxHandle, api: httpx.Client) -> bool:
    upload = api.post("/api/content/upload-image", json={"fileType": "image/png"})
    create = api.post("/api/content", json={**PAYLOAD, "total_shares": 1.5})
    return upload.status_code == 500 and create.status_code == 500


def cors_missing(h: SandboxHandle, api: httpx.Client) -> bool:
    resp = api.get("/api/health", headers={"Origin": h.state.frontend_url})
    return not any(k.lower().startswith("access-control-") for k in resp.headers)


def frontend_down(h: SandboxHandle, api: httpx.Client) -> bool:
    paths = ("/", "/growth-hub", "/create", "/assets/x.js")
    return all(httpx.get(h.state.frontend_url + p, timeout=10).status_code == 503 for p in paths)


def frontend_wrong_api(h: SandboxHandle, api: httpx.Client) -> bool:
    html = httpx.get(h.state.frontend_url + "/create", timeout=10).text
    src = re.search(r'src="(/assets/index-[0-9a-f]{8}\.js)"', html)
    assert src is not None
    bundle = httpx.get(h.state.frontend_url + src.group(1), timeout=10).text
    return "http://localhost:3001" in bundle and h.state.api_url not in bundle


def _bundle(h: SandboxHandle) -> str:
    html = httpx.get(h.state.frontend_url + "/create", timeout=10).text
    src = re.search(r'src="(/assets/index-[0-9a-f]{8}\.js)"', html)
    assert src is not None
    return httpx.get(h.state.frontend_url + src.group(1), timeout=10).text


def frontend_reads_wrong_id(h: SandboxHandle, api: httpx.Client) -> bool:
    return "result.contentId" in _bundle(h)


def frontend_price_override(h: SandboxHandle, api: httpx.Client) -> bool:
    bundle = _bundle(h)
    return "share_price: 0," in bundle and "share_price: sharePrice," not in bundle


def growth_hub_api_missing(h: SandboxHandle, api: httpx.Client) -> bool:
    resp = api.get("/api/growth/channels")
    return resp.status_code == 404 and api.get("/api/users/me").status_code == 200


def frontend_api_unrouted(h: SandboxHandle, api: httpx.Client) -> bool:
    health = httpx.get(h.state.frontend_url + "/api/health", timeout=10)
    upload = httpx.post(h.state.frontend_url + "/api/content/upload-image", json={}, timeout=10)
    return health.headers["content-type"].startswith("text/html") and upload.status_code == 404


PROBES: dict[str, Probe] = {n: globals()[n] for n in FAULTS if callable(globals().get(n))}


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_shows_its_symptom_and_healthy_does_not(
    sandbox: SandboxHandle, api: httpx.Client, name: str
) -> None:
    probe = PROBES[name]
    assert probe(sandbox, api) is False, f"healthy sandbox shows the symptom of {name}"
    assert sandbox.set_faults([name]) == [name]
    assert sandbox.faults() == [name]
    assert probe(sandbox, api) is True, f"{name} does not show its symptom"
    sandbox.set_faults([])
    assert probe(sandbox, api) is False, f"{name} did not revert"


def test_faults_combine_and_switching_twice_is_idempotent(
    sandbox: SandboxHandle, api: httpx.Client
) -> None:
    both = ["bucket_missing", "positions_table_missing"]
    assert sandbox.set_faults(both) == both
    assert sandbox.set_faults(both) == both
    assert bucket_missing(sandbox, api)
    assert positions_table_missing(sandbox, api)
    sandbox.set_faults(["bucket_missing"])
    assert not positions_table_missing(sandbox, api)
    sandbox.set_faults([])
    assert _fell_back(sandbox, api) is None
    assert str(uuid.UUID(_created(api)["content"]["id"]))
