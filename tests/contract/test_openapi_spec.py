"""contract/openapi.yaml is valid OpenAPI 3.1, complete, linked, and mapped to checklist items.

These are static checks of the suite (no request is sent), so they claim no checklist item.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml

from promorang_gate.contract.spec import (
    DocumentedPaths,
    load_spec,
    operation_items,
    spec_operations,
)

CONTRACT_DIR = Path(__file__).resolve().parents[2] / "contract"
WRITES = {"POST", "PUT", "DELETE"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CONTRACT_DIR / "openapi.yaml").read_text())
    return loaded


def _operations(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in raw["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }


def test_spec_is_valid_openapi_31(raw: dict[str, Any]) -> None:
    assert raw["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(copy.deepcopy(raw)).validate()


def test_validation_rejects_a_broken_spec(raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["paths"]["/api/health"]["get"]["responses"] = "none"
    with pytest.raises(Exception, match="none"):
        schemathesis.openapi.from_dict(broken).validate()


def test_every_operation_and_reference_resolves(raw: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(raw))
    labels = [result.ok().label for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert sorted(labels) == sorted(_operations(raw))


def test_spec_operations_match_checklist_items(raw: dict[str, Any], repo_root: Path) -> None:
    """Every documented operation names exactly one item of checklists/contract.yaml, and every
    item is named by one operation: a removed, renamed or unmapped operation fails here."""
    items = operation_items(raw)
    assert list(items) == spec_operations(raw) == list(_operations(raw))
    unmapped = [label for label, item in items.items() if item is None]
    assert not unmapped, f"operations without x-checklist-item: {unmapped}"
    checklist = yaml.safe_load((repo_root / "checklists" / "contract.yaml").read_text())
    assert sorted(str(i) for i in items.values()) == sorted(i["id"] for i in checklist["items"])


def test_suite_reads_the_spec_it_ships(raw: dict[str, Any]) -> None:
    assert load_spec(CONTRACT_DIR / "openapi.yaml") == raw


def test_links_lead_from_create_to_get_update_delete(raw: dict[str, Any]) -> None:
    ids = {op["operationId"]: label for label, op in _operations(raw).items()}
    created = raw["paths"]["/api/content"]["post"]["responses"]["201"]
    links = created["links"]
    assert {ids[link["operationId"]] for link in links.values()} == {
        "GET /api/content/{id}",
        "PUT /api/content/{id}",
        "DELETE /api/content/{id}",
    }
    assert all(
        link["parameters"] == {"id": "$response.body#/content/id"} for link in links.values()
    )
    content = raw["components"]["schemas"]["Content"]
    assert "id" in content["required"]
    machine = schemathesis.openapi.from_dict(copy.deepcopy(raw)).as_state_machine()
    assert machine.schema.statistic.transitions.total >= 3


def test_writes_need_the_bearer_token_and_content_reads_may(raw: dict[str, Any]) -> None:
    assert raw["components"]["securitySchemes"]["creatorBearer"]["scheme"] == "bearer"
    for label, op in _operations(raw).items():
        expected: list[dict[str, list[str]]] | None = None
        if label.split()[0] in WRITES:
            expected = [{"creatorBearer": []}]
        elif label.split()[1].startswith("/api/content"):
            # Whether a read without a token is refused is declared per env (reads_need_auth).
            expected = [{"creatorBearer": []}, {}]
        assert op.get("security") == expected, label
        if expected:
            assert "401" in op["responses"], label


def test_content_object_requires_every_documented_field(raw: dict[str, Any]) -> None:
    content = raw["components"]["schemas"]["Content"]
    assert set(content["required"]) == set(content["properties"])
    assert content.get("additionalProperties", True) is not False
    assert "available_shares" in content["required"]


def test_success_answers_carry_the_security_headers(raw: dict[str, Any]) -> None:
    for label, op in _operations(raw).items():
        for status, response in op["responses"].items():
            if status.startswith("2"):
                assert set(response["headers"]) == {
                    "X-Content-Type-Options",
                    "X-Frame-Options",
                    "Strict-Transport-Security",
                }, label


def test_documented_paths_match_templates_per_method(raw: dict[str, Any]) -> None:
    paths = DocumentedPaths(spec_operations(raw))
    assert paths.allows("GET", "/api/content/abc")
    assert paths.allows("HEAD", "/api/health")
    assert not paths.allows("GET", "/api/content/a/b")
    assert not paths.allows("POST", "/api/content/abc")
    assert not paths.allows("GET", "/api/growth/channels")


def test_guard_adapter_refuses_before_sending(raw: dict[str, Any]) -> None:
    from promorang_gate.contract.errors import UndocumentedRequest
    from promorang_gate.contract.transport import guarded_session
    from promorang_gate.target.http import WriteRefused, guard

    def check_write(method: str, url: str) -> None:
        guard(method, url, False, "prod")

    # Port 9 (discard) is never contacted: every request below is refused before sending.
    documented = DocumentedPaths(spec_operations(raw))
    session = guarded_session("http://127.0.0.1:9", documented, check_write)
    with pytest.raises(WriteRefused, match="POST /api/content refused before sending"):
        session.post("http://127.0.0.1:9/api/content", json={})
    with pytest.raises(UndocumentedRequest, match="not in the contract"):
        session.get("http://127.0.0.1:9/api/growth/channels")
    with pytest.raises(UndocumentedRequest, match="outside the API"):
        session.get("http://127.0.0.2:9/api/health")
