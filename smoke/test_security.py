"""Security smoke (CONTRACT.md §6.11, §6.20): only the creator's own, correctly signed token
may change the creator's content. Each check sends a forged write against an item made for it
and reads the stored row back: a refusal that still changed the row is a failure."""

from __future__ import annotations

import time
from typing import Any

import pytest

from _support import UUID_PATTERN, content_payload, env_variable, forged_token, jwt_claims
from promorang_gate.stored import StoredState
from promorang_gate.tags import tagged_title

pytestmark = pytest.mark.security

# Subjects the platform's requireAuth decodes without verifying (§6.20).
DEMO_SUBJECTS = (
    "demo-gate-probe",
    "a0000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000001",
)
WRONG_KEY = b"not-the-project-jwt-secret-but-long-enough-for-hs256"


@pytest.fixture
def creators_item(
    gate_target: Any, gate_api: Any, gate_ledger: Any, gate_run_id: str
) -> dict[str, str]:
    """An item the test creator made for this test (removed at teardown)."""
    if not gate_target.creator_token:
        variable = env_variable(gate_target.name, "creator_token")
        pytest.skip(f"no creator token for {gate_target.name}: set {variable}")
    payload = content_payload(gate_run_id, title="Security probe")
    created = gate_api.post("/api/content", json=payload)
    assert created.status_code == 201, f"create answered {created.status_code}: {created.text}"
    content_id = str((created.json().get("content") or {}).get("id", ""))
    assert UUID_PATTERN.match(content_id), f"create returned id {content_id!r}, not a UUID"
    gate_ledger.content(content_id)
    return {"id": content_id, "title": payload["title"], "run_id": gate_run_id}


def _write(gate_api: Any, method: str, item: dict[str, str], token: str) -> Any:
    # Tagged like everything the run writes, should a broken deployment accept it.
    body = (
        {"json": {"title": tagged_title("taken over", item["run_id"])}} if method == "PUT" else {}
    )
    headers = {"Authorization": f"Bearer {token}"}
    return gate_api.request(method, f"/api/content/{item['id']}", headers=headers, **body)


def _assert_unchanged(stored: StoredState, item: dict[str, str], what: str) -> None:
    row = stored.content_row(item["id"])
    assert row is not None, f"{what} was answered as refused, but the item was deleted"
    assert row["title"] == item["title"], f"{what} changed the stored title to {row['title']!r}"


@pytest.mark.checklist("security.unsigned_token_refused")
def test_unsigned_or_wrongly_signed_token_is_refused(
    gate_target: Any, gate_api: Any, creators_item: dict[str, str], gate_stored: StoredState
) -> None:
    claims = jwt_claims(gate_target.creator_token)
    if claims is None:
        variable = env_variable(gate_target.name, "creator_token")
        pytest.skip(f"{variable} is no JWT: cannot forge a token with its claims")
    for how, token in (
        ("unsigned", forged_token(claims)),
        ("wrongly signed", forged_token(claims, WRONG_KEY)),
    ):
        for method in ("PUT", "DELETE"):
            answer = _write(gate_api, method, creators_item, token)
            assert answer.status_code == 401, (
                f"{method} /api/content/{{id}} with an {how} token of the creator answered "
                f"{answer.status_code}, expected 401"
            )
            assert answer.json().get("success") is False, f"401 body: {answer.text}"
    _assert_unchanged(gate_stored, creators_item, "a write with a forged token")


@pytest.mark.checklist("security.demo_bypass_refused")
def test_demo_subject_token_is_refused(
    gate_api: Any, creators_item: dict[str, str], gate_stored: StoredState
) -> None:
    now = int(time.time())
    for subject in DEMO_SUBJECTS:
        claims = {"sub": subject, "role": "authenticated", "iat": now, "exp": now + 600}
        for method in ("PUT", "DELETE"):
            answer = _write(gate_api, method, creators_item, forged_token(claims))
            mode = answer.headers.get("x-auth-mode")
            request = f"{method} /api/content/{{id}} with an unverified token of {subject!r}"
            assert answer.status_code == 401, (
                f"{request} answered {answer.status_code} (X-Auth-Mode: {mode}), expected 401"
            )
            assert mode is None, f"{request} answered with X-Auth-Mode: {mode}"
    _assert_unchanged(gate_stored, creators_item, "a write with a demo-subject token")


@pytest.mark.checklist("security.ownership_enforced")
def test_other_user_cannot_change_the_creators_content(
    gate_target: Any, gate_api: Any, creators_item: dict[str, str], gate_stored: StoredState
) -> None:
    variable = env_variable(gate_target.name, "other_user_token")
    token = gate_target.other_user_token
    if not token:
        pytest.skip(f"no second user for {gate_target.name}: set {variable} (another user's token)")
    creator = (jwt_claims(gate_target.creator_token) or {}).get("sub")
    if creator is not None and (jwt_claims(token) or {}).get("sub") == creator:
        pytest.skip(f"{variable} is the creator's own token: give another user's")
    for method in ("PUT", "DELETE"):
        answer = _write(gate_api, method, creators_item, token)
        assert answer.status_code in (403, 404), (
            f"{method} /api/content/{{id}} of the creator's item with another user's token "
            f"answered {answer.status_code}, expected 403 or 404"
        )
        assert answer.json().get("success") is False, f"{answer.status_code} body: {answer.text}"
    _assert_unchanged(gate_stored, creators_item, "another user's write")
