"""`POST /api/content` + `PUT` + `DELETE`, each step verified by reading the stored row back
(CONTRACT traps: mock mode answers 201 with a numeric id, DELETE answers 200 and keeps the row)."""

from __future__ import annotations

from typing import Any

import pytest

from _support import UUID_PATTERN, content_payload
from promorang_gate.cleanup.tags import tagged_title
from promorang_gate.target.stored import StoredState

pytestmark = pytest.mark.create_flow


@pytest.mark.checklist("create_flow.content_crud")
def test_content_create_update_delete_persist(
    gate_api: Any, gate_ledger: Any, gate_run_id: str, gate_stored: StoredState
) -> None:
    payload = content_payload(gate_run_id)
    created = gate_api.post("/api/content", json=payload)
    assert created.status_code == 201, f"create answered {created.status_code}: {created.text}"
    body = created.json()
    content = body.get("content") or {}
    content_id = str(content.get("id", ""))
    if UUID_PATTERN.match(content_id):
        gate_ledger.content(content_id)
    assert UUID_PATTERN.match(content_id), f"create returned id {content_id!r}, not a UUID"
    assert not str(body.get("message", "")).endswith("(mock)"), "the API runs in mock mode"
    assert content.get("title") == payload["title"]
    row = gate_stored.content_row(content_id)
    assert row is not None, f"created item {content_id} is not stored ({gate_stored.through})"
    assert row["title"] == payload["title"]

    read = gate_api.get(f"/api/content/{content_id}")
    assert read.status_code == 200, f"GET answered {read.status_code}"
    assert read.json()["content"]["id"] == content_id

    new_title = tagged_title("Smoke Test Content (updated)", gate_run_id)
    updated = gate_api.put(f"/api/content/{content_id}", json={"title": new_title})
    assert updated.status_code == 200, f"PUT answered {updated.status_code}: {updated.text}"
    assert gate_api.get(f"/api/content/{content_id}").json()["content"]["title"] == new_title
    stored_row = gate_stored.content_row(content_id)
    assert stored_row is not None, "the item vanished after PUT"
    assert stored_row["title"] == new_title, (
        f"PUT answered 200 but the stored title is {stored_row['title']!r}"
    )

    deleted = gate_api.delete(f"/api/content/{content_id}")
    assert deleted.status_code == 200, f"DELETE answered {deleted.status_code}: {deleted.text}"
    assert deleted.json().get("success") is True
    after = gate_api.get(f"/api/content/{content_id}")
    assert after.status_code == 404, f"GET after DELETE answered {after.status_code}"
    assert gate_stored.content_row(content_id) is None, (
        "DELETE answered 200 but the row is still stored"
    )
