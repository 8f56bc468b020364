"""Storage bucket and service-role permissions (Create Flow Deployment Checklist)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from _support import png_bytes

pytestmark = pytest.mark.create_flow


@pytest.mark.checklist("create_flow.bucket_exists")
def test_bucket_exists_and_is_public(gate_target: Any, gate_supabase: Any) -> None:
    bucket = gate_supabase.storage.get_bucket(gate_target.bucket)
    assert bucket.id == gate_target.bucket
    assert bucket.public is True, (
        f"bucket {gate_target.bucket!r} is private: public image URLs will not load"
    )


@pytest.mark.checklist("create_flow.service_role_storage")
def test_service_role_can_insert_read_and_remove(
    gate_target: Any, gate_supabase: Any, gate_ledger: Any, gate_tag: str
) -> None:
    path = f"gate-probes/{gate_tag}/{gate_tag}-probe-{uuid.uuid4().hex[:8]}.png"
    data = png_bytes(path)
    files = gate_supabase.storage.from_(gate_target.bucket)
    gate_ledger.object(gate_target.bucket, path)

    files.upload(path, data, {"content-type": "image/png", "upsert": "false"})
    folder, name = path.rsplit("/", 1)
    # Listing runs under the service role's own grants; downloads from a public bucket do not.
    listed = [entry["name"] for entry in files.list(folder)]
    assert name in listed, f"the service role cannot see the uploaded object {path}"
    assert files.download(path) == data, "the stored object differs from the uploaded bytes"

    removed = files.remove([path])
    assert [entry.get("name") for entry in removed] == [path], f"remove answered {removed!r}"
    left = [entry["name"] for entry in files.list(folder)]
    assert name not in left, "the probe object is still listed after removal"
