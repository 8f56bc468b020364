"""`POST /api/content/upload-image` returns 201 with a non-fallback URL (CONTRACT trap: a 201
that silently serves a stock photo)."""

from __future__ import annotations

from typing import Any

import pytest

from _support import new_upload, object_path_of, public_object_prefix, same_host

pytestmark = pytest.mark.create_flow


@pytest.mark.checklist("create_flow.upload_image")
def test_upload_returns_public_url_serving_the_same_bytes(
    gate_target: Any, gate_api: Any, gate_http: Any, gate_ledger: Any, gate_run_id: str
) -> None:
    probe = new_upload(gate_run_id, "upload")
    response = gate_api.post("/api/content/upload-image", json=probe.payload())
    assert response.status_code == 201, f"upload answered {response.status_code}: {response.text}"
    body = response.json()
    assert body.get("success") is True, f"upload body: {body!r}"
    image_url = str(body.get("imageUrl", ""))
    path = object_path_of(image_url, gate_target.supabase_url, gate_target.bucket)
    if path is not None:
        gate_ledger.object(gate_target.bucket, path)

    assert "fallback" not in body, (
        f"upload fell back: {body.get('fallbackReason')!r} (imageUrl {image_url})"
    )
    assert "fallbackReason" not in body, f"upload carries a fallbackReason: {body!r}"
    assert same_host(image_url, gate_target.supabase_url), (
        f"imageUrl host is not Supabase: {image_url}"
    )
    expected_prefix = public_object_prefix(gate_target.supabase_url, gate_target.bucket)
    assert path is not None, f"imageUrl {image_url} is not under {expected_prefix}"
    assert path.startswith(f"{gate_target.upload_prefix}/"), f"object {path} is outside the prefix"

    fetched = gate_http.get(image_url)
    assert fetched.status_code == 200, f"GET imageUrl answered {fetched.status_code}"
    assert fetched.headers.get("content-type", "").startswith("image/"), fetched.headers
    assert fetched.content == probe.data, "the public URL serves other bytes than were uploaded"
