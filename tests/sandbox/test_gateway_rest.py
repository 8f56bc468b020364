"""The gateway's PostgREST subset, driven by supabase-py (and httpx where headers matter)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import Client, create_client

from promorang_sandbox.jwtkeys import SERVICE_ROLE_KEY, sign

if TYPE_CHECKING:
    from conftest import GatewayEnv


@pytest.fixture
def client(gateway_env: GatewayEnv) -> Client:
    return create_client(gateway_env.url, SERVICE_ROLE_KEY)


@pytest.fixture
def rest(gateway_env: GatewayEnv) -> Iterator[httpx.Client]:
    headers = {"apikey": SERVICE_ROLE_KEY, "Authorization": f"Bearer {SERVICE_ROLE_KEY}"}
    with httpx.Client(base_url=f"{gateway_env.url}/rest/v1", headers=headers) as http:
        yield http


@pytest.fixture
def items(client: Client, gateway_env: GatewayEnv) -> Iterator[list[dict[str, Any]]]:
    """Five content items of one batch (title ``<batch>-<n>``), deleted afterwards."""
    batch = uuid.uuid4().hex[:8]
    rows = [
        {
            "title": f"{batch}-{n}",
            "creator_id": gateway_env.seed.creator_id,
            "impressions": n * 10,
            "platform": None if n == 4 else ("tiktok" if n % 2 else "Instagram"),
            "engagement_rate": n / 4,
        }
        for n in range(5)
    ]
    created = client.table("content_items").insert(rows).execute().data
    try:
        yield sorted(created, key=lambda r: r["impressions"])
    finally:
        client.table("content_items").delete().like("title", f"{batch}-*").execute()


def _titles(data: list[dict[str, Any]]) -> list[str]:
    return [row["title"].rsplit("-", 1)[1] for row in data]


def test_insert_returns_the_row_with_defaults(client: Client, gateway_env: GatewayEnv) -> None:
    res = client.table("content_items").insert({"title": "one", "engagement_rate": 12.5}).execute()
    try:
        (row,) = res.data
        uuid.UUID(row["id"])
        assert row["status"] == "draft"
        assert row["impressions"] == 0
        assert row["engagement_rate"] == 12.5
        assert row["created_at"].endswith("+00:00")
    finally:
        client.table("content_items").delete().eq("id", row["id"]).execute()


def test_filters(client: Client, items: list[dict[str, Any]]) -> None:
    batch = items[0]["title"].rsplit("-", 1)[0]

    def q() -> Any:
        return client.table("content_items").select("title").like("title", f"{batch}-%")

    assert _titles(q().eq("impressions", 20).execute().data) == ["2"]
    assert sorted(_titles(q().neq("impressions", 20).execute().data)) == ["0", "1", "3", "4"]
    assert sorted(_titles(q().gt("impressions", 20).execute().data)) == ["3", "4"]
    assert sorted(_titles(q().gte("impressions", 20).execute().data)) == ["2", "3", "4"]
    assert sorted(_titles(q().lt("impressions", 20).execute().data)) == ["0", "1"]
    assert sorted(_titles(q().lte("impressions", 10).execute().data)) == ["0", "1"]
    assert sorted(_titles(q().ilike("platform", "insta*").execute().data)) == ["0", "2"]
    assert sorted(_titles(q().like("platform", "Insta%").execute().data)) == ["0", "2"]
    assert sorted(_titles(q().in_("impressions", [0, 30]).execute().data)) == ["0", "3"]
    assert _titles(q().is_("platform", None).execute().data) == ["4"]
    assert sorted(_titles(q().not_.is_("platform", None).execute().data)) == ["0", "1", "2", "3"]
    assert sorted(_titles(q().not_.in_("impressions", [0, 30]).execute().data)) == ["1", "2", "4"]
    # Repeated keys on one column are ANDed.
    both = q().gt("impressions", 0).lt("impressions", 30).execute().data
    assert sorted(_titles(both)) == ["1", "2"]


def test_order_limit_offset_and_count(client: Client, items: list[dict[str, Any]]) -> None:
    batch = items[0]["title"].rsplit("-", 1)[0]
    res = (
        client.table("content_items")
        .select("title,impressions", count="exact")
        .like("title", f"{batch}-%")
        .order("impressions", desc=True)
        .limit(2)
        .offset(1)
        .execute()
    )
    assert _titles(res.data) == ["3", "2"]
    assert res.count == 5
    nulls = (
        client.table("content_items")
        .select("title")
        .like("title", f"{batch}-%")
        .order("platform", desc=True, nullsfirst=True)
        .execute()
    )
    assert _titles(nulls.data)[0] == "4"


def test_content_range_and_206(rest: httpx.Client, items: list[dict[str, Any]]) -> None:
    batch = items[0]["title"].rsplit("-", 1)[0]
    params = {"select": "id", "title": f"like.{batch}-*", "limit": "2", "offset": "1"}
    partial = rest.get("/content_items", params=params, headers={"Prefer": "count=exact"})
    assert partial.status_code == 206
    assert partial.headers["content-range"] == "1-2/5"
    assert partial.headers["content-type"] == "application/json; charset=utf-8"
    full = rest.get("/content_items", params={"title": f"like.{batch}-*"})
    assert full.status_code == 200
    assert full.headers["content-range"] == "0-4/*"
    empty = rest.get(
        "/content_items", params={"title": "eq.no-such-title"}, headers={"Prefer": "count=exact"}
    )
    assert (empty.status_code, empty.headers["content-range"], empty.json()) == (200, "*/0", [])
    past = rest.get(
        "/content_items",
        params={"title": f"like.{batch}-*", "offset": "9"},
        headers={"Prefer": "count=exact"},
    )
    assert past.status_code == 416
    assert past.json()["code"] == "PGRST103"


def test_head_count(client: Client, rest: httpx.Client, items: list[dict[str, Any]]) -> None:
    batch = items[0]["title"].rsplit("-", 1)[0]
    res = (
        client.table("content_items")
        .select("*", count="exact", head=True)
        .like("title", f"{batch}-%")
        .execute()
    )
    assert (res.data, res.count) == ([], 5)
    raw = rest.head(
        "/content_items", params={"title": f"like.{batch}-*"}, headers={"Prefer": "count=exact"}
    )
    assert (raw.status_code, raw.content, raw.headers["content-range"]) == (200, b"", "0-4/5")


def test_legacy_select_count(client: Client, items: list[dict[str, Any]]) -> None:
    batch = items[0]["title"].rsplit("-", 1)[0]
    res = client.table("content_items").select("count").like("title", f"{batch}-%").execute()
    assert res.data == [{"count": 5}]


def test_column_list_and_alias(rest: httpx.Client, items: list[dict[str, Any]]) -> None:
    res = rest.get(
        "/content_items", params={"select": "name:title,id", "id": f"eq.{items[0]['id']}"}
    )
    assert res.json() == [{"name": items[0]["title"], "id": items[0]["id"]}]


def test_single(client: Client, items: list[dict[str, Any]]) -> None:
    row = client.table("content_items").select("*").eq("id", items[1]["id"]).single().execute()
    assert row.data["title"] == items[1]["title"]
    with pytest.raises(APIError) as none:
        client.table("content_items").select("*").eq("title", "no-such-title").single().execute()
    assert none.value.code == "PGRST116"
    assert none.value.message == "Cannot coerce the result to a single JSON object"
    assert none.value.details == "The result contains 0 rows"


def test_single_mutation_rolls_back(
    client: Client, rest: httpx.Client, items: list[dict[str, Any]]
) -> None:
    batch = items[0]["title"].rsplit("-", 1)[0]
    res = rest.patch(
        "/content_items",
        params={"title": f"like.{batch}-*"},
        json={"status": "posted"},
        headers={"Accept": "application/vnd.pgrst.object+json", "Prefer": "return=representation"},
    )
    assert res.status_code == 406
    assert res.json()["details"] == "The result contains 5 rows"
    statuses = client.table("content_items").select("status").like("title", f"{batch}-%").execute()
    assert {r["status"] for r in statuses.data} == {"draft"}


def test_update_and_delete(client: Client, items: list[dict[str, Any]]) -> None:
    target = items[2]["id"]
    updated = client.table("content_items").update({"status": "posted"}).eq("id", target).execute()
    assert [r["status"] for r in updated.data] == ["posted"]
    assert updated.data[0]["updated_at"] > items[2]["updated_at"]
    deleted = client.table("content_items").delete().eq("id", target).execute()
    assert [r["id"] for r in deleted.data] == [target]
    assert client.table("content_items").select("id").eq("id", target).execute().data == []


def test_return_minimal_statuses(rest: httpx.Client) -> None:
    title = f"minimal-{uuid.uuid4().hex[:8]}"
    created = rest.post("/content_items", json={"title": title})
    assert (created.status_code, created.content) == (201, b"")
    patched = rest.patch("/content_items", params={"title": f"eq.{title}"}, json={"clicks": 3})
    assert (patched.status_code, patched.content) == (204, b"")
    # supabase-py sends a body with DELETE: it is ignored.
    deleted = rest.request("DELETE", "/content_items", params={"title": f"eq.{title}"}, json={})
    assert deleted.status_code == 204
    assert rest.get("/content_items", params={"title": f"eq.{title}"}).json() == []


def test_bulk_insert_with_columns(rest: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    res = rest.post(
        "/content_items",
        params={"columns": '"title","clicks"'},
        json=[{"title": f"{tag}-a", "clicks": 1}, {"title": f"{tag}-b"}],
        headers={"Prefer": "return=representation"},
    )
    try:
        assert res.status_code == 201
        assert sorted((r["title"][-1], r["clicks"]) for r in res.json()) == [("a", 1), ("b", None)]
    finally:
        rest.delete("/content_items", params={"title": f"like.{tag}-*"})


def test_missing_table_is_pgrst205(client: Client) -> None:
    with pytest.raises(APIError) as err:
        client.table("no_such_table").select("*").execute()
    assert err.value.code == "PGRST205"
    assert (
        err.value.message == "Could not find the table 'public.no_such_table' in the schema cache"
    )


def test_renamed_table_is_seen_at_once(client: Client, gateway_db: psycopg.Connection[Any]) -> None:
    client.table("content_share_positions").select("id").execute()
    gateway_db.execute("alter table content_share_positions rename to csp_away")
    try:
        with pytest.raises(APIError) as err:
            client.table("content_share_positions").select("id").execute()
        assert err.value.code == "PGRST205"
    finally:
        gateway_db.execute("alter table csp_away rename to content_share_positions")
    assert client.table("content_share_positions").select("id").execute().data is not None


def test_postgres_errors(client: Client, rest: httpx.Client, gateway_env: GatewayEnv) -> None:
    with pytest.raises(APIError) as dup:
        client.table("users").insert({"email": gateway_env.seed.creator_email}).execute()
    assert dup.value.code == "23505"
    assert dup.value.details == f"Key (email)=({gateway_env.seed.creator_email}) already exists."
    duplicate = rest.post("/users", json={"email": gateway_env.seed.creator_email})
    assert duplicate.status_code == 409
    fk = rest.post("/content_items", json={"title": "x", "creator_id": str(uuid.uuid4())})
    assert (fk.status_code, fk.json()["code"]) == (409, "23503")
    not_null = rest.post("/content_items", json={"description": "no title"})
    assert (not_null.status_code, not_null.json()["code"]) == (400, "23502")
    bad_literal = rest.get("/content_items", params={"impressions": "eq.abc"})
    assert (bad_literal.status_code, bad_literal.json()["code"]) == (400, "22P02")
    assert set(bad_literal.json()) == {"code", "details", "hint", "message"}
    unknown = rest.post("/content_items", json={"title": "x", "share_price": 1})
    assert unknown.status_code == 400
    assert unknown.json() == {
        "code": "PGRST204",
        "details": None,
        "hint": None,
        "message": "Could not find the 'share_price' column of 'content_items' in the schema cache",
    }
    bad_column = rest.get("/content_items", params={"select": "nope"})
    assert (bad_column.status_code, bad_column.json()["code"]) == (400, "42703")


def test_bad_and_expired_tokens(gateway_env: GatewayEnv) -> None:
    url = f"{gateway_env.url}/rest/v1/content_items"
    forged = SERVICE_ROLE_KEY[:-4] + "AAAA"
    bad = httpx.get(url, headers={"apikey": forged, "Authorization": f"Bearer {forged}"})
    assert (bad.status_code, bad.json()["code"]) == (401, "PGRST301")
    assert bad.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    old = sign({"role": "service_role", "exp": int(time.time()) - 3600})
    expired = httpx.get(url, headers={"apikey": old, "Authorization": f"Bearer {old}"})
    assert (expired.status_code, expired.json()["code"]) == (401, "PGRST303")
    assert expired.json()["message"] == "JWT expired"
    root = sign({"role": "postgres"})
    superuser = httpx.get(url, headers={"apikey": root, "Authorization": f"Bearer {root}"})
    assert (superuser.status_code, superuser.json()["code"]) == (401, "PGRST303")


def test_requests_are_recorded(client: Client, gateway_env: GatewayEnv) -> None:
    gateway_env.recorder.clear()
    client.table("users").select("id").eq("id", gateway_env.seed.creator_id).execute()
    (rec,) = gateway_env.recorder.snapshot()
    assert (rec.service, rec.method, rec.path) == ("gateway", "GET", "/rest/v1/users")
    assert f"id=eq.{gateway_env.seed.creator_id}" in rec.query


def test_upsert_merge_duplicates(rest: httpx.Client, gateway_env: GatewayEnv) -> None:
    res = rest.post(
        "/users",
        json={"id": gateway_env.seed.creator_id, "display_name": "Renamed"},
        headers={"Prefer": "return=representation,resolution=merge-duplicates"},
    )
    assert res.status_code in (200, 201)
    assert res.json()[0]["display_name"] == "Renamed"
    assert res.json()[0]["email"] == gateway_env.seed.creator_email
    rest.patch(
        "/users",
        params={"id": f"eq.{gateway_env.seed.creator_id}"},
        json={"display_name": "Sandbox Creator"},
    )
