"""The gateway's Storage API subset, driven by supabase-py's storage3 (and httpx for headers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from storage3.exceptions import StorageApiError
from supabase import Client, create_client

from promorang_sandbox.database import PRIVATE_BUCKET, PUBLIC_BUCKET
from promorang_sandbox.jwtkeys import ANON_KEY, SERVICE_ROLE_KEY

if TYPE_CHECKING:
    from conftest import GatewayEnv

PNG = b"\x89PNG\r\n\x1a\n-sandbox-bytes"


@pytest.fixture
def client(gateway_env: GatewayEnv) -> Client:
    return create_client(gateway_env.url, SERVICE_ROLE_KEY)


@pytest.fixture
def folder(client: Client) -> Iterator[str]:
    """A unique folder in both content buckets; emptied afterwards."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        for bucket in (PUBLIC_BUCKET, PRIVATE_BUCKET):
            api = client.storage.from_(bucket)
            paths = [f"{name}/{e['name']}" for e in api.list(name) if e["id"]]
            paths += [f"{name}/sub/{e['name']}" for e in api.list(f"{name}/sub") if e["id"]]
            if paths:
                api.remove(paths)


def _error(exc: pytest.ExceptionInfo[StorageApiError]) -> tuple[Any, ...]:
    return (str(exc.value.status), exc.value.code)


def test_get_and_list_buckets(client: Client, gateway_env: GatewayEnv) -> None:
    bucket = client.storage.get_bucket(PUBLIC_BUCKET)
    assert (bucket.id, bucket.name, bucket.public, bucket.owner) == (
        PUBLIC_BUCKET,
        PUBLIC_BUCKET,
        True,
        "",
    )
    raw = httpx.get(
        f"{gateway_env.url}/storage/v1/bucket/{PRIVATE_BUCKET}",
        headers={"apikey": SERVICE_ROLE_KEY, "Authorization": f"Bearer {SERVICE_ROLE_KEY}"},
    ).json()
    assert set(raw) == {
        "id", "name", "owner", "public", "created_at", "updated_at",
        "file_size_limit", "allowed_mime_types",
    }  # fmt: skip
    assert raw["public"] is False
    names = {b.id for b in client.storage.list_buckets()}
    assert {PUBLIC_BUCKET, PRIVATE_BUCKET} <= names


def test_missing_bucket(client: Client) -> None:
    with pytest.raises(StorageApiError) as err:
        client.storage.get_bucket("no-such-bucket")
    assert _error(err) == ("404", "Bucket not found")


def test_create_bucket_and_duplicate(client: Client) -> None:
    name = f"b-{uuid.uuid4().hex[:8]}"
    client.storage.create_bucket(
        name, options={"public": False, "file_size_limit": "1KB", "allowed_mime_types": ["text/*"]}
    )
    try:
        bucket = client.storage.get_bucket(name)
        assert (bucket.file_size_limit, bucket.allowed_mime_types) == (1024, ["text/*"])
        with pytest.raises(StorageApiError) as dup:
            client.storage.create_bucket(name)
        assert _error(dup) == ("409", "Duplicate")
        api = client.storage.from_(name)
        with pytest.raises(StorageApiError) as big:
            api.upload("big.txt", b"x" * 2048, {"content-type": "text/plain"})
        assert _error(big) == ("413", "Payload too large")
        with pytest.raises(StorageApiError) as mime:
            api.upload("a.png", PNG, {"content-type": "image/png"})
        assert str(mime.value.status) == "415"
    finally:
        client.storage.delete_bucket(name)


def test_upload_download_and_public_url(
    client: Client, gateway_env: GatewayEnv, folder: str
) -> None:
    api = client.storage.from_(PUBLIC_BUCKET)
    path = f"{folder}/my photo.png"
    res = api.upload(path, PNG, {"content-type": "image/png"})
    assert res.full_path == f"{PUBLIC_BUCKET}/{path}"
    assert api.download(path) == PNG
    url = api.get_public_url(path)
    assert (
        url == f"{gateway_env.url}/storage/v1/object/public/{PUBLIC_BUCKET}/{folder}/my%20photo.png"
    )
    public = httpx.get(url)
    assert public.status_code == 200
    assert public.content == PNG
    assert public.headers["content-type"] == "image/png"
    assert public.headers["content-length"] == str(len(PNG))
    assert public.headers["cache-control"] == "max-age=3600"
    assert public.headers["etag"].startswith('"')


def test_upload_twice_needs_upsert(client: Client, folder: str) -> None:
    api = client.storage.from_(PUBLIC_BUCKET)
    path = f"{folder}/a.txt"
    api.upload(path, b"one")
    with pytest.raises(StorageApiError) as dup:
        api.upload(path, b"two")
    assert _error(dup) == ("409", "Duplicate")
    assert dup.value.message == "The resource already exists"
    api.upload(path, b"two", {"upsert": "true"})
    assert api.download(path) == b"two"
    api.update(path, b"three", {"content-type": "text/markdown"})
    assert api.download(path) == b"three"


def test_raw_upload_like_supabase_js(gateway_env: GatewayEnv, client: Client, folder: str) -> None:
    headers = {
        "apikey": SERVICE_ROLE_KEY,
        "Authorization": f"Bearer {SERVICE_ROLE_KEY}",
        "content-type": "text/markdown",
        "cache-control": "max-age=60",
        "x-upsert": "false",
    }
    url = f"{gateway_env.url}/storage/v1/object/{PUBLIC_BUCKET}/{folder}/raw%20file.md"
    res = httpx.post(url, content=b"# hi", headers=headers)
    assert res.status_code == 200
    body = res.json()
    assert body["Key"] == f"{PUBLIC_BUCKET}/{folder}/raw file.md"
    uuid.UUID(body["Id"])
    got = httpx.get(
        f"{gateway_env.url}/storage/v1/object/public/{PUBLIC_BUCKET}/{folder}/raw file.md"
    )
    assert (got.content, got.headers["content-type"]) == (b"# hi", "text/markdown")
    assert got.headers["cache-control"] == "max-age=60"


def test_private_bucket(client: Client, gateway_env: GatewayEnv, folder: str) -> None:
    api = client.storage.from_(PRIVATE_BUCKET)
    path = f"{folder}/secret.png"
    api.upload(path, PNG, {"content-type": "image/png"})
    assert api.download(path) == PNG
    public = httpx.get(api.get_public_url(path))
    assert public.status_code == 400
    assert public.json() == {
        "statusCode": "404",
        "code": "NoSuchBucket",
        "error": "Bucket not found",
        "message": "Bucket not found",
    }
    anon = create_client(gateway_env.url, ANON_KEY).storage.from_(PRIVATE_BUCKET)
    with pytest.raises(StorageApiError) as hidden:
        anon.download(path)
    assert _error(hidden) == ("404", "not_found")
    authenticated = httpx.get(
        f"{gateway_env.url}/storage/v1/object/authenticated/{PRIVATE_BUCKET}/{path}",
        headers={"Authorization": f"Bearer {SERVICE_ROLE_KEY}"},
    )
    assert authenticated.content == PNG


def test_missing_object(client: Client, gateway_env: GatewayEnv) -> None:
    with pytest.raises(StorageApiError) as err:
        client.storage.from_(PUBLIC_BUCKET).download("nope/none.png")
    assert _error(err) == ("404", "not_found")
    res = httpx.get(f"{gateway_env.url}/storage/v1/object/public/{PUBLIC_BUCKET}/nope/none.png")
    assert (res.status_code, res.json()["code"]) == (400, "NoSuchKey")
    missing_bucket = httpx.get(f"{gateway_env.url}/storage/v1/object/public/nobucket/a.png")
    assert missing_bucket.json()["code"] == "NoSuchBucket"


def test_list_one_level(client: Client, folder: str) -> None:
    api = client.storage.from_(PUBLIC_BUCKET)
    for name in ("b.txt", "A.txt", "sub/c.txt", "sub/d.txt"):
        api.upload(f"{folder}/{name}", b"x")
    entries = api.list(folder)
    assert [e["name"] for e in entries] == ["A.txt", "b.txt", "sub"]
    sub = next(e for e in entries if e["name"] == "sub")
    assert (sub["id"], sub["metadata"]) == (None, None)
    a = entries[0]
    assert a["metadata"]["size"] == 1
    assert a["metadata"]["mimetype"].startswith("text/plain")
    assert [e["name"] for e in api.list(f"{folder}/sub")] == ["c.txt", "d.txt"]
    assert [e["name"] for e in api.list(folder, {"limit": 1, "offset": 1})] == ["b.txt"]
    assert [e["name"] for e in api.list(folder, {"search": "b"})] == ["b.txt"]
    desc = api.list(folder, {"sortBy": {"column": "name", "order": "desc"}})
    assert [e["name"] for e in desc] == ["sub", "b.txt", "A.txt"]


def test_remove(client: Client, folder: str) -> None:
    api = client.storage.from_(PUBLIC_BUCKET)
    api.upload(f"{folder}/x.txt", b"x")
    removed = api.remove([f"{folder}/x.txt", f"{folder}/never.txt"])
    assert [r["name"] for r in removed] == [f"{folder}/x.txt"]
    assert api.remove([f"{folder}/x.txt"]) == []
    with pytest.raises(StorageApiError):
        api.download(f"{folder}/x.txt")


def test_bad_token_is_access_denied(gateway_env: GatewayEnv, client: Client, folder: str) -> None:
    forged = SERVICE_ROLE_KEY[:-4] + "AAAA"
    headers = {"apikey": forged, "Authorization": f"Bearer {forged}"}
    res = httpx.post(
        f"{gateway_env.url}/storage/v1/object/{PUBLIC_BUCKET}/{folder}/x.txt",
        content=b"x",
        headers=headers,
    )
    assert res.status_code == 400
    body = res.json()
    assert (body["statusCode"], body["code"], body["error"]) == (
        "403",
        "AccessDenied",
        "Unauthorized",
    )
    # GET object falls back to anon: a public bucket still serves.
    client.storage.from_(PUBLIC_BUCKET).upload(f"{folder}/y.txt", b"y")
    got = httpx.get(
        f"{gateway_env.url}/storage/v1/object/{PUBLIC_BUCKET}/{folder}/y.txt", headers=headers
    )
    assert (got.status_code, got.content) == (200, b"y")
