"""Every fault shows its documented symptom (docs/faults.md), and the healthy sandbox does not."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from promorang_sandbox import FAULTS, SandboxHandle
from promorang_sandbox.sqlsplit import split_and_trim

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


def upload_path_mismatch(h: SandboxHandle, api: httpx.Client) -> bool:
    """The answered URL does not serve, while the object is stored under the same file name
    with another uuid in the same folder."""
    resp, _ = _upload(api)
    assert resp.status_code == 201
    key = resp.json()["imageUrl"].split(f"/object/public/{h.state.bucket}/", 1)[1]
    folder, name = key.rsplit("/", 1)
    listed = httpx.post(
        f"{h.state.supabase_url}/storage/v1/object/list/{h.state.bucket}",
        json={"prefix": folder, "limit": 1000},
        headers=_service(h),
        timeout=10,
    ).json()
    suffix = name[len(str(uuid.uuid4())) :]  # "-probe.png"
    elsewhere = [e["name"] for e in listed if e["name"].endswith(suffix) and e["name"] != name]
    return bool(elsewhere) and not _serves(resp.json()["imageUrl"])


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


def _ledger(h: SandboxHandle, version: str) -> list[str] | None:
    with psycopg.connect(h.state.database_url) as conn:
        row = conn.execute(
            "select statements from supabase_migrations.schema_migrations where version = %s",
            (version,),
        ).fetchone()
    return None if row is None else list(row[0])


def _repo_file(h: SandboxHandle, version: str) -> str:
    folder = Path(h.state.app_repo) / "supabase" / "migrations"
    return next(folder.glob(f"{version}_*.sql")).read_text(encoding="utf-8")


def migration_not_applied(h: SandboxHandle, api: httpx.Client) -> bool:
    return _ledger(h, "202510270002") is None and _ledger(h, "202510290101") is not None


def migration_drifted(h: SandboxHandle, api: httpx.Client) -> bool:
    statements = _ledger(h, "202510270001")
    assert statements is not None
    return statements != split_and_trim(_repo_file(h, "202510270001"))


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


def create_redirects_to_undefined(h: SandboxHandle, api: httpx.Client) -> bool:
    return 'navigate("/content/undefined");' in _bundle(h)


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


def _within(seconds: float, seen: Callable[[], bool]) -> bool:
    """Whether ``seen`` turns true before the deadline (faults that appear after a while)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if seen():
            return True
        time.sleep(0.1)
    return False


def error_rate_rises(h: SandboxHandle, api: httpx.Client) -> bool:
    return _within(3, lambda: any(api.get("/api/health").status_code == 500 for _ in range(2)))


def latency_creeps(h: SandboxHandle, api: httpx.Client) -> bool:
    def slow() -> bool:
        started = time.monotonic()
        api.get("/api/health")
        return time.monotonic() - started > 0.3

    return _within(3, slow)


def _db_count(h: SandboxHandle, query: str) -> int:
    with psycopg.connect(h.state.database_url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def connections_leak(h: SandboxHandle, api: httpx.Client) -> bool:
    from promorang_sandbox.faults import LEAK_NAME

    held = f"select count(*) from pg_stat_activity where application_name = '{LEAK_NAME}'"
    limit = "select datconnlimit from pg_database where datname = current_database()"
    return _db_count(h, limit) == 10 and _within(3, lambda: _db_count(h, held) > 0)


def bucket_near_quota(h: SandboxHandle, api: httpx.Client) -> bool:
    fill = "select count(*) from storage.objects where name like '__sandbox_quota_fill/%'"
    return _within(3, lambda: _db_count(h, fill) > 0)


def _stripe_post(h: SandboxHandle, body: bytes, header: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return httpx.post(h.state.api_url + "/api/webhooks/stripe", content=body, headers=headers)


def _stripe_signed(h: SandboxHandle, body: bytes, age_s: int = 0) -> str:
    import stripe

    stamp = int(time.time()) - age_s
    secret = h.state.stripe_webhook_secret
    return str(stripe.WebhookSignature.generate_signature_header(body.decode(), secret, stamp))


STRIPE_EVENT = json.dumps({"id": "evt_probe", "type": "promorang_gate.ping"}, indent=2).encode()


def webhook_accepts_unsigned(h: SandboxHandle, api: httpx.Client) -> bool:
    return _stripe_post(h, STRIPE_EVENT, None).status_code == 200


def webhook_wrong_secret_name(h: SandboxHandle, api: httpx.Client) -> bool:
    resp = _stripe_post(h, STRIPE_EVENT, _stripe_signed(h, STRIPE_EVENT))
    return resp.status_code == 400 and resp.text.startswith("Webhook Error: No signatures")


def webhook_parses_before_verifying(h: SandboxHandle, api: httpx.Client) -> bool:
    genuine = _stripe_post(h, STRIPE_EVENT, _stripe_signed(h, STRIPE_EVENT))
    compact = json.dumps(json.loads(STRIPE_EVENT), separators=(",", ":")).encode()
    copy = _stripe_post(h, STRIPE_EVENT, _stripe_signed(h, compact))
    return genuine.status_code == 400 and copy.status_code == 200


def webhook_500_on_bad_signature(h: SandboxHandle, api: httpx.Client) -> bool:
    resp = _stripe_post(h, STRIPE_EVENT, "t=1,v1=00")
    return resp.status_code == 500 and resp.text == "Webhook handler error"


def webhook_no_timestamp_tolerance(h: SandboxHandle, api: httpx.Client) -> bool:
    return _stripe_post(h, STRIPE_EVENT, _stripe_signed(h, STRIPE_EVENT, 3600)).status_code == 200


def stale_deployment(h: SandboxHandle, api: httpx.Client) -> bool:
    stated = api.get("/api/health").json().get("commit")
    head = subprocess.run(
        ["git", "-C", h.state.app_repo, "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return stated != head and f'__PROMORANG_BUILD_COMMIT__ = "{head}"' in _bundle(h)


PROBES: dict[str, Probe] = {n: globals()[n] for n in FAULTS if callable(globals().get(n))}


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


# Faults that appear only after a while: their probes wait out a window, healthy too.
_TIMED = {"error_rate_rises", "latency_creeps", "connections_leak", "bucket_near_quota"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in _TIMED else []) for n in FAULTS]
)
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


# --- contract semantics and security (docs/traps.md) ----------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _unsigned(sub: str) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    claims = {"sub": sub, "role": "authenticated", "exp": int(time.time()) + 600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def list_ignores_limit(h: SandboxHandle, api: httpx.Client) -> bool:
    platform = f"probe-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        assert api.post("/api/content", json={**PAYLOAD, "platform": platform}).status_code == 201
    page = api.get("/api/content", params={"type": platform, "page": 2, "limit": 1}).json()
    return len(page) > 1


def roundtrip_price(h: SandboxHandle, api: httpx.Client) -> bool:
    created = api.post("/api/content", json={**PAYLOAD, "share_price": 0.1}).json()["content"]
    assert created["share_price"] == 0.1
    return bool(api.get(f"/api/content/{created['id']}").json()["content"]["share_price"] == 0.5)


def roundtrip_platform_url(h: SandboxHandle, api: httpx.Client) -> bool:
    cid = _created(api)["content"]["id"]
    read = api.get(f"/api/content/{cid}").json()["content"]["platform_url"]
    return bool(read != PAYLOAD["platform_url"])


def delete_missing_200(h: SandboxHandle, api: httpx.Client) -> bool:
    return api.delete(f"/api/content/{uuid.uuid4()}").status_code == 200


def put_missing_500(h: SandboxHandle, api: httpx.Client) -> bool:
    return api.put(f"/api/content/{uuid.uuid4()}", json={"title": "x"}).status_code == 500


def accepts_wrong_types(h: SandboxHandle, api: httpx.Client) -> bool:
    return api.post("/api/content", json={**PAYLOAD, "title": ["x"]}).status_code == 201


def upload_accepts_html(h: SandboxHandle, api: httpx.Client) -> bool:
    page = base64.b64encode(b"<html><script>alert(1)</script></html>").decode()
    resp = api.post("/api/content/upload-image", json={"fileType": "text/html", "fileData": page})
    return resp.status_code == 201 and "fallback" not in resp.json()


def bad_id_500(h: SandboxHandle, api: httpx.Client) -> bool:
    statuses = {
        api.get("/api/content/abc").status_code,
        api.put("/api/content/abc", json={"title": "x"}).status_code,
        api.delete("/api/content/abc").status_code,
    }
    return statuses == {500}


def auth_unverified(h: SandboxHandle, api: httpx.Client) -> bool:
    cid = _created(api)["content"]["id"]
    forged = _bearer(_unsigned(h.state.creator_id))
    return api.put(f"/api/content/{cid}", json={"title": "x"}, headers=forged).status_code == 200


def auth_demo_bypass(h: SandboxHandle, api: httpx.Client) -> bool:
    cid = _created(api)["content"]["id"]
    demo = _bearer(_unsigned("demo-probe"))
    resp = api.put(f"/api/content/{cid}", json={"title": "x"}, headers=demo)
    return resp.status_code != 401 and resp.headers.get("x-auth-mode") == "demo-bypass"


def no_ownership_check(h: SandboxHandle, api: httpx.Client) -> bool:
    cid = _created(api)["content"]["id"]
    other = _bearer(h.state.other_user_token)
    return api.put(f"/api/content/{cid}", json={"title": "x"}, headers=other).status_code == 200


def mock_mode(h: SandboxHandle, api: httpx.Client) -> bool:
    body = api.post("/api/content", json=PAYLOAD).json()
    mocked = isinstance(body["content"]["id"], int) and body["message"].endswith("(mock)")
    return mocked and _fell_back(h, api) == "Supabase storage is not configured in this environment"


def uuid_default_dropped(h: SandboxHandle, api: httpx.Client) -> bool:
    return api.post("/api/content", json=PAYLOAD).status_code == 500


# --- the platform's newest build (H) --------------------------------------------------------


def reads_need_no_auth(h: SandboxHandle, api: httpx.Client) -> bool:
    anonymous = httpx.get(f"{h.state.api_url}/api/content", params={"limit": 1}, timeout=10)
    return anonymous.status_code == 200 and isinstance(anonymous.json(), list)


def demo_login_open(h: SandboxHandle, api: httpx.Client) -> bool:
    login = httpx.post(f"{h.state.api_url}/api/demo-login", json={}, timeout=10)
    if login.status_code != 200:
        return False
    token = login.json()["token"]
    probe = api.put(f"/api/content/{uuid.uuid4()}", json={"title": "x"}, headers=_bearer(token))
    return probe.status_code == 404


def cors_reflects_vercel_app(h: SandboxHandle, api: httpx.Client) -> bool:
    origin = "https://gate-probe.vercel.app"
    resp = httpx.get(f"{h.state.api_url}/api/health", headers={"Origin": origin}, timeout=10)
    echoed = resp.headers.get("access-control-allow-origin") == origin
    return echoed and resp.headers.get("access-control-allow-credentials") == "true"


def create_500_after_commit(h: SandboxHandle, api: httpx.Client) -> bool:
    title = f"commit probe {uuid.uuid4().hex[:8]}"
    answer = api.post("/api/content", json={**PAYLOAD, "title": title})
    with psycopg.connect(h.state.database_url) as conn:
        rows = conn.execute("select id from content_items where title = %s", (title,)).fetchall()
        conn.execute("delete from content_items where title = %s", (title,))
    return answer.status_code == 500 and len(rows) == 1


def frontend_lazy_chunk_wrong_api(h: SandboxHandle, api: httpx.Client) -> bool:
    lazy = re.search(r'import\("\./(create-[0-9a-f]{8}\.js)"\)', _bundle(h))
    assert lazy is not None, "the entry loads no lazy chunk"
    chunk = httpx.get(f"{h.state.frontend_url}/assets/{lazy.group(1)}", timeout=10).text
    return "http://localhost:3001" in chunk and h.state.api_url not in chunk


PROBES.update({n: globals()[n] for n in FAULTS if n not in PROBES and callable(globals().get(n))})
