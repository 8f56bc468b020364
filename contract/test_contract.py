"""contract/openapi.yaml against the deployment. Each operation of the spec names the checklist
item it verifies; every test below runs per operation and counts for that operation's item."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promorang_gate.contract.spec import load_spec, operation_items

if TYPE_CHECKING:
    from promorang_gate.contract.runner import ContractRunner

pytestmark = pytest.mark.contract

ITEMS = operation_items(load_spec(Path(__file__).resolve().with_name("openapi.yaml")))
NOT_CREATE_FLOW = frozenset({"GET /api/health"})
WRITES = [label for label in ITEMS if not label.startswith("GET ")]
INVALID_INPUT = ["POST /api/content/upload-image", "POST /api/content", "PUT /api/content/{id}"]
BY_ID = ["GET /api/content/{id}", "PUT /api/content/{id}", "DELETE /api/content/{id}"]
LIFECYCLE = ["POST /api/content", *BY_ID]
CONTENT_READS = ["GET /api/content", "GET /api/content/{id}"]


def _params(labels: Iterable[str]) -> list[Any]:
    params = []
    for label in labels:
        marks: list[Any] = []
        if ITEMS.get(label):
            marks.append(pytest.mark.checklist(ITEMS[label]))
        if label not in NOT_CREATE_FLOW:
            marks.append(pytest.mark.create_flow)
        params.append(pytest.param(label, marks=marks, id=label))
    return params


@pytest.mark.parametrize("label", _params(ITEMS))
def test_operation_conforms(label: str, contract_runner: ContractRunner, gate_ledger: Any) -> None:
    """Generated valid requests get documented statuses, bodies, content types and headers."""
    if not ITEMS[label]:
        pytest.fail(f"{label} is in contract/openapi.yaml but names no x-checklist-item")
    contract_runner.fuzz(label, gate_ledger)


@pytest.mark.parametrize("label", _params(INVALID_INPUT))
def test_invalid_input_is_refused(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """Wrong types in every field, bounds, missing fields, non-image files: 4xx, the same cases
    on every run."""
    contract_runner.negative(label, gate_ledger)


@pytest.mark.parametrize("label", _params(WRITES))
def test_write_requires_token(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """A write without the creator's bearer token answers the documented 401."""
    contract_runner.requires_token(label, gate_ledger)


@pytest.mark.parametrize("label", _params(CONTENT_READS))
def test_anonymous_read_as_declared(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """A read without a token is refused (401) or answered, as the env's `reads_need_auth`
    declares; every other request carries the creator's token, as the platform's clients do."""
    contract_runner.anonymous_read(label, gate_ledger)


@pytest.mark.parametrize("focus", _params(LIFECYCLE))
def test_content_lifecycle(focus: str, contract_runner: ContractRunner, gate_ledger: Any) -> None:
    """create → get → update → get → delete → get: what was written reads back; deleted is gone."""
    contract_runner.lifecycle(focus, gate_ledger)


@pytest.mark.create_flow
@pytest.mark.checklist(ITEMS["GET /api/content"])
def test_list_honours_limit_and_page(contract_runner: ContractRunner, gate_ledger: Any) -> None:
    """Pages hold at most `limit` items and the next page repeats none of them."""
    contract_runner.pagination(gate_ledger)


@pytest.mark.parametrize("label", _params(BY_ID))
def test_missing_content_answers_404(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """An id that never existed, or was just deleted (a repeated DELETE too), answers 404."""
    contract_runner.missing(label, gate_ledger)


@pytest.mark.parametrize("label", _params(BY_ID))
def test_malformed_id_is_refused(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """An id that is not a UUID answers 400 or 404, never 500."""
    contract_runner.malformed_ids(label, gate_ledger)
