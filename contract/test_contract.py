"""contract/openapi.yaml against the deployment: one test family per operation and item.

Operations are enumerated at collection from the spec (pyyaml only); schemathesis runs inside
the ``contract_runner`` fixture. Each test carries the checklist item of the operation it checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

from _contract_spec import (
    NEGATIVE_OPERATIONS,
    NOT_CREATE_FLOW,
    OPERATION_ITEMS,
    load_spec,
    spec_operations,
)

if TYPE_CHECKING:
    from _schemathesis_support import ContractRunner

pytestmark = pytest.mark.contract

SPEC_OPERATIONS = spec_operations(load_spec())
# Mapped operations first (in mapping order), then any the spec adds without an item.
ALL_OPERATIONS = [*OPERATION_ITEMS, *(op for op in SPEC_OPERATIONS if op not in OPERATION_ITEMS)]
WRITE_OPERATIONS = [op for op in OPERATION_ITEMS if not op.startswith("GET ")]
LIFECYCLE = ["POST /api/content", "GET /api/content/{id}", "PUT /api/content/{id}"]
LIFECYCLE.append("DELETE /api/content/{id}")


def _params(labels: Iterable[str]) -> list[Any]:
    params = []
    for label in labels:
        marks: list[Any] = []
        if label in OPERATION_ITEMS:
            marks.append(pytest.mark.checklist(OPERATION_ITEMS[label]))
        if label not in NOT_CREATE_FLOW:
            marks.append(pytest.mark.create_flow)
        params.append(pytest.param(label, marks=marks, id=label))
    return params


@pytest.mark.parametrize("label", _params(ALL_OPERATIONS))
def test_operation_conforms(label: str, contract_runner: ContractRunner, gate_ledger: Any) -> None:
    """Generated valid requests get documented statuses, bodies, content types and headers."""
    if label not in OPERATION_ITEMS:
        pytest.fail(f"{label} is in contract/openapi.yaml but has no checklist item")
    contract_runner.fuzz(label, gate_ledger)


@pytest.mark.parametrize("label", _params(NEGATIVE_OPERATIONS))
def test_invalid_input_is_refused(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """Generated invalid requests are answered 4xx, never 5xx and never accepted."""
    contract_runner.negative(label, gate_ledger)


@pytest.mark.parametrize("label", _params(WRITE_OPERATIONS))
def test_write_requires_token(
    label: str, contract_runner: ContractRunner, gate_ledger: Any
) -> None:
    """A write without the creator's bearer token answers the documented 401."""
    contract_runner.requires_token(label, gate_ledger)


@pytest.mark.parametrize("focus", _params(LIFECYCLE))
def test_content_lifecycle(focus: str, contract_runner: ContractRunner, gate_ledger: Any) -> None:
    """create → get → update → delete → get: the focused step conforms; deleted content is gone."""
    contract_runner.lifecycle(focus, gate_ledger)
