"""contract/openapi.yaml is valid OpenAPI 3.1, complete, linked, and mapped to checklist items."""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import schemathesis
import yaml

CONTRACT_DIR = Path(__file__).resolve().parents[2] / "contract"
WRITES = {"POST", "PUT", "DELETE"}


@pytest.fixture(scope="module")
def spec_module() -> ModuleType:
    sys.path.insert(0, str(CONTRACT_DIR))
    try:
        return importlib.import_module("_contract_spec")
    finally:
        sys.path.remove(str(CONTRACT_DIR))


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


def test_operations_match_checklist_items(
    raw: dict[str, Any], spec_module: ModuleType, repo_root: Path
) -> None:
    assert spec_module.spec_operations(raw) == list(spec_module.OPERATION_ITEMS)
    checklist = yaml.safe_load((repo_root / "checklists" / "contract.yaml").read_text())
    assert sorted(spec_module.OPERATION_ITEMS.values()) == sorted(
        i["id"] for i in checklist["items"]
    )


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


def test_writes_need_the_bearer_token_and_reads_do_not(raw: dict[str, Any]) -> None:
    assert raw["components"]["securitySchemes"]["creatorBearer"]["scheme"] == "bearer"
    for label, op in _operations(raw).items():
        expected: list[dict[str, list[str]]] | None = None
        if label.split()[0] in WRITES:
            expected = [{"creatorBearer": []}]
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


def test_documented_paths_match_templates_per_method(spec_module: ModuleType) -> None:
    paths = spec_module.DocumentedPaths(spec_module.OPERATION_ITEMS)
    assert paths.allows("GET", "/api/content/abc")
    assert paths.allows("HEAD", "/api/health")
    assert not paths.allows("GET", "/api/content/a/b")
    assert not paths.allows("POST", "/api/content/abc")
    assert not paths.allows("GET", "/api/growth/channels")


def test_guard_adapter_refuses_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    from promorang_gate.http import WriteRefused, guard

    monkeypatch.syspath_prepend(str(CONTRACT_DIR))
    support = importlib.import_module("_schemathesis_support")

    def check_write(method: str, url: str) -> None:
        guard(method, url, False, "prod")

    # Port 9 (discard) is never contacted: every request below is refused before sending.
    session = support.guarded_session("http://127.0.0.1:9", check_write)
    with pytest.raises(WriteRefused, match="POST /api/content refused before sending"):
        session.post("http://127.0.0.1:9/api/content", json={})
    with pytest.raises(support.UndocumentedRequest, match="not in contract"):
        session.get("http://127.0.0.1:9/api/growth/channels")
    with pytest.raises(support.UndocumentedRequest, match="outside the API"):
        session.get("http://127.0.0.2:9/api/health")
