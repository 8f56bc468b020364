"""Access is decided by Postgres grants and RLS, not by gateway code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import Client, create_client

from promorang_sandbox.database import PRIVATE_BUCKET, PUBLIC_BUCKET
from promorang_sandbox.jwtkeys import ANON_KEY, SERVICE_ROLE_KEY, user_token

if TYPE_CHECKING:
    from conftest import GatewayEnv


@pytest.fixture
def service(gateway_env: GatewayEnv) -> Client:
    return create_client(gateway_env.url, SERVICE_ROLE_KEY)


@pytest.fixture
def anon(gateway_env: GatewayEnv) -> Client:
    return create_client(gateway_env.url, ANON_KEY)


@pytest.fixture
def content_id(service: Client, gateway_env: GatewayEnv) -> Iterator[str]:
    """A content item of the seeded creator; its positions cascade away with it."""
    row = (
        service.table("content_items")
        .insert({"title": "rls", "creator_id": gateway_env.seed.creator_id})
        .execute()
        .data[0]
    )
    try:
        yield row["id"]
    finally:
        service.table("content_items").delete().eq("id", row["id"]).execute()


def _position(content_id: str, holder: str) -> dict[str, Any]:
    return {
        "content_id": content_id,
        "holder_id": holder,
        "shares_owned": 100,
        "total_invested": 25,
    }


def test_anon_cannot_write_positions(
    anon: Client, gateway_env: GatewayEnv, content_id: str
) -> None:
    with pytest.raises(APIError) as err:
        anon.table("content_share_positions").insert(
            _position(content_id, gateway_env.seed.creator_id)
        ).execute()
    assert err.value.code == "42501"
    assert "row-level security" in (err.value.message or "")
    raw = httpx.post(
        f"{gateway_env.url}/rest/v1/content_share_positions",
        json=_position(content_id, gateway_env.seed.creator_id),
        headers={"apikey": ANON_KEY, "Authorization": f"Bearer {ANON_KEY}"},
    )
    assert raw.status_code == 401
    assert raw.headers["www-authenticate"].startswith("Bearer")


def test_service_role_writes_and_owner_reads(
    service: Client, gateway_env: GatewayEnv, content_id: str
) -> None:
    creator = gateway_env.seed.creator_id
    row = service.table("content_share_positions").insert(_position(content_id, creator)).execute()
    assert row.data[0]["average_price"] == 0.25
    token = user_token(creator, gateway_env.seed.creator_email)
    owner = httpx.get(
        f"{gateway_env.url}/rest/v1/content_share_positions",
        params={"content_id": f"eq.{content_id}"},
        headers={"apikey": ANON_KEY, "Authorization": f"Bearer {token}"},
    )
    assert [r["holder_id"] for r in owner.json()] == [creator]
    stranger = user_token(str(uuid.uuid4()), "x@example.test")
    hidden = httpx.get(
        f"{gateway_env.url}/rest/v1/content_share_positions",
        params={"content_id": f"eq.{content_id}"},
        headers={"apikey": ANON_KEY, "Authorization": f"Bearer {stranger}"},
    )
    assert hidden.json() == []
    # An authenticated user is refused by RLS with 403 (not 401: the role is not anon).
    denied = httpx.post(
        f"{gateway_env.url}/rest/v1/content_share_positions",
        json=_position(content_id, creator),
        headers={"apikey": ANON_KEY, "Authorization": f"Bearer {token}"},
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "42501")


def test_anon_cannot_upload_or_list(anon: Client) -> None:
    with pytest.raises(StorageApiError) as err:
        anon.storage.from_(PUBLIC_BUCKET).upload(f"anon/{uuid.uuid4().hex}.txt", b"x")
    assert (str(err.value.status), err.value.code) == ("403", "Unauthorized")
    assert err.value.message == "new row violates row-level security policy"
    assert anon.storage.list_buckets() == []
    with pytest.raises(StorageApiError) as create:
        anon.storage.create_bucket(f"anon-{uuid.uuid4().hex[:6]}")
    assert str(create.value.status) == "403"


def test_revoked_grants_deny_the_service_role(
    service: Client, gateway_db: psycopg.Connection[Any]
) -> None:
    api = service.storage.from_(PUBLIC_BUCKET)
    path = f"rls/{uuid.uuid4().hex}.txt"
    api.upload(path, b"before")
    private = service.storage.from_(PRIVATE_BUCKET)
    private.upload(path, b"private")
    try:
        gateway_db.execute("revoke insert on storage.objects from service_role")
        try:
            with pytest.raises(StorageApiError) as err:
                api.upload(f"rls/{uuid.uuid4().hex}.txt", b"x")
            assert (str(err.value.status), err.value.code) == ("403", "Unauthorized")
            assert "permission denied" in err.value.message
        finally:
            gateway_db.execute("grant insert on storage.objects to service_role")
        api.upload(f"{path}.after", b"after")
        gateway_db.execute("revoke select on storage.objects from service_role")
        try:
            with pytest.raises(StorageApiError) as read:
                private.download(path)
            assert str(read.value.status) == "403"
            with pytest.raises(StorageApiError) as listed:
                api.list("rls")
            assert str(listed.value.status) == "403"
            with pytest.raises(StorageApiError) as removed:
                api.remove([path])
            assert str(removed.value.status) == "403"
            assert api.download(path) == b"before"  # public buckets are read as the owner
        finally:
            gateway_db.execute("grant select on storage.objects to service_role")
        assert private.download(path) == b"private"
    finally:
        api.remove([path, f"{path}.after"])
        private.remove([path])
