"""The contract's own checks, one response at a time: what each one asserts and the first line
of its failure (the item's reason), without a deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from schemathesis.core.transport import Response

from promorang_gate.contract.checks import (
    ABSENT_ID,
    POSITIVE_CHECKS,
    Scenario,
    in_scenario,
)
from promorang_gate.contract.errors import ContractViolation
from promorang_gate.contract.failures import combine, violation
from promorang_gate.contract.runner import load_schema

# What validate_response raises: schemathesis' group of failures.
FAILED = (AssertionError, BaseExceptionGroup)
SPEC = Path(__file__).resolve().parents[2] / "contract" / "openapi.yaml"
HEADERS = {
    "content-type": ["application/json"],
    "x-content-type-options": ["nosniff"],
    "x-frame-options": ["SAMEORIGIN"],
    "strict-transport-security": ["max-age=15552000"],
}
CONTENT = {
    "id": "6f0e0c1a-6a53-4f6e-9d32-0d9a3f1b2c4d",
    "creator_id": "c0c0c0c0-0000-4000-8000-000000000001",
    "creator_username": "creator",
    "creator_name": "Creator",
    "creator_avatar": "https://example.test/a.png",
    "platform": "instagram",
    "platform_url": "https://instagram.com/p/x",
    "title": "t",
    "description": None,
    "media_url": "https://example.test/m.png",
    "total_shares": 100,
    "available_shares": 100,
    "engagement_shares_total": 100,
    "engagement_shares_remaining": 100,
    "share_price": 0.1,
    "current_revenue": 0,
    "performance_metrics": "{}",
    "views_count": 0,
    "likes_count": 0,
    "comments_count": 0,
    "reposts_count": 100,
    "is_demo": False,
    "is_sponsored": False,
    "created_at": "2026-11-25T00:00:00Z",
    "updated_at": "2026-11-25T00:00:00Z",
}


def op(label: str) -> Any:
    method, path = label.split(" ", 1)
    return load_schema(SPEC)[path][method]


def answer(case: Any, status: int, body: Any) -> Response:
    prepared = requests.Request(case.method, f"http://api.test{case.formatted_path}").prepare()
    return Response(status, HEADERS, json.dumps(body).encode(), prepared, 0.01, True)


def first_line(case: Any, response: Response, scenario: Scenario | None = None) -> str:
    """The first line of the violation ``case``'s checks raise (the item's reason)."""
    with pytest.raises(FAILED) as caught, in_scenario(scenario or Scenario()):
        case.validate_response(response, checks=list(POSITIVE_CHECKS))
    return str(violation(caught.value, "test", str)).splitlines()[0]


def test_a_missing_field_names_the_field_and_the_request() -> None:
    case = op("GET /api/content").Case(query={})
    drifted = {k: v for k, v in CONTENT.items() if k != "available_shares"}
    assert first_line(case, answer(case, 200, [drifted])) == (
        'GET /api/content: response violates the schema: "available_shares" is a required property'
    )


def test_a_server_error_is_one_line() -> None:
    case = op("GET /api/content/{id}").Case(path_parameters={"id": CONTENT["id"]})
    line = first_line(case, answer(case, 500, {"success": False, "error": "boom"}))
    assert line == "GET /api/content/{id} answered 500"


def test_a_list_longer_than_limit_fails() -> None:
    case = op("GET /api/content").Case(query={"page": 2, "limit": 1})
    line = first_line(case, answer(case, 200, [CONTENT, {**CONTENT, "id": "x"}]))
    assert line == "GET /api/content?page=2&limit=1 answered 2 items, more than limit=1"


def test_the_next_page_repeats_nothing_of_the_last() -> None:
    scenario = Scenario()
    first = op("GET /api/content").Case(query={"limit": 1, "page": 1})
    scenario.observe(first, answer(first, 200, [CONTENT]))
    second = op("GET /api/content").Case(query={"limit": 1, "page": 2})
    line = first_line(second, answer(second, 200, [CONTENT]), scenario)
    assert line == f"GET /api/content?limit=1&page=2 repeats 1 item(s) of page 1: {CONTENT['id']}"


def test_what_was_created_reads_back() -> None:
    scenario = Scenario()
    create = op("POST /api/content").Case(
        body={"platform": "instagram", "title": "t", "platform_url": "p", "share_price": 0.1},
        media_type="application/json",
    )
    created = {**CONTENT, "platform_url": "p"}
    scenario.observe(create, answer(create, 201, {"success": True, "content": created}))
    get = op("GET /api/content/{id}").Case(path_parameters={"id": CONTENT["id"]})
    read = {**created, "share_price": 0.5, "creator_name": "Demo Creator"}
    line = first_line(get, answer(get, 200, {"success": True, "content": read}), scenario)
    assert line == (
        f"GET /api/content/{CONTENT['id']} does not read back what was written: "
        "share_price 0.1 reads back as 0.5; creator_name 'Creator' reads back as 'Demo Creator'"
    )
    fine = answer(get, 200, {"success": True, "content": created})
    with in_scenario(scenario):
        get.validate_response(fine, checks=list(POSITIVE_CHECKS))


def test_a_price_kept_to_the_cent_reads_back() -> None:
    """The platform stores prices to 4 decimals and its GET answers cents: healthy, for a
    drawn price like 581.9090349; 0.1 reading back as 0.5 (CONTRACT.md 6.8) is not."""
    get = op("GET /api/content/{id}").Case(path_parameters={"id": CONTENT["id"]})
    scenario = Scenario(written={CONTENT["id"]: {"share_price": 581.9090349467491}})
    cents = {"success": True, "content": {**CONTENT, "share_price": 581.91}}
    with in_scenario(scenario):
        get.validate_response(answer(get, 200, cents), checks=list(POSITIVE_CHECKS))
    scenario = Scenario(written={CONTENT["id"]: {"share_price": 0.1}})
    line = first_line(
        get,
        answer(get, 200, {"success": True, "content": {**CONTENT, "share_price": 0.5}}),
        scenario,
    )
    assert line.endswith("share_price 0.1 reads back as 0.5")


def test_an_update_reads_back_only_what_it_wrote() -> None:
    scenario = Scenario()
    put = op("PUT /api/content/{id}").Case(
        path_parameters={"id": CONTENT["id"]}, body={"title": "new"}, media_type="application/json"
    )
    scenario.observe(put, answer(put, 200, {"success": True, "content": CONTENT}))
    assert scenario.written == {CONTENT["id"]: {"title": "new"}}


def test_a_type_change_is_a_difference() -> None:
    scenario = Scenario(written={CONTENT["id"]: {"total_shares": 100}})
    get = op("GET /api/content/{id}").Case(path_parameters={"id": CONTENT["id"]})
    read = {"success": True, "content": {**CONTENT, "total_shares": True}}
    with pytest.raises(FAILED), in_scenario(scenario):
        get.validate_response(answer(get, 200, read), checks=list(POSITIVE_CHECKS))


@pytest.mark.parametrize("label", ["GET", "PUT", "DELETE"])
def test_what_is_gone_answers_404(label: str) -> None:
    scenario = Scenario(gone={ABSENT_ID: "never existed"})
    case = op(f"{label} /api/content/{{id}}").Case(path_parameters={"id": ABSENT_ID})
    body: dict[str, Any] = {"success": True, "message": "Content deleted successfully"}
    if label != "DELETE":
        body = {"success": True, "content": CONTENT, "message": "Content updated successfully"}
    line = first_line(case, answer(case, 200, body), scenario)
    assert f"{label} /api/content/{ABSENT_ID} answered 200 for an item that never existed" in line


def test_a_malformed_id_never_answers_5xx() -> None:
    case = op("DELETE /api/content/{id}").Case(path_parameters={"id": "123"})
    scenario = Scenario()
    with pytest.raises(FAILED) as caught, in_scenario(scenario):
        case.validate_response(answer(case, 500, {}), checks=list(POSITIVE_CHECKS))
    text = str(violation(caught.value, "test", str))
    assert "DELETE /api/content/123 answered 500 for the malformed id '123'" in text
    position = op("GET /api/content/{id}").Case(path_parameters={"id": "3"})
    position.validate_response(
        answer(position, 404, {"success": False, "error": "Content not found"}),
        checks=list(POSITIVE_CHECKS),
    )


def test_several_violations_lead_with_the_first() -> None:
    joined = combine([ContractViolation("A answered 500", "a"), ContractViolation("B", "b")])
    assert str(joined).splitlines()[0] == "A answered 500 (and 1 more)"
    assert "B\nb" in joined.detail


def test_secrets_are_redacted_from_every_line() -> None:
    exc = ContractViolation("POST /x answered 500 with token s3cr3t-token", "body s3cr3t-token")
    out = violation(exc, "test", lambda text: text.replace("s3cr3t-token", "[REDACTED]"))
    assert "s3cr3t-token" not in str(out)
