"""What the contract suite needs: one schemathesis runner per environment, built lazily.

schemathesis and hypothesis are imported inside the fixtures, never at collection, so that
``pytest -m "create_flow or smoke"`` without contract tests does not pay for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _schemathesis_support import ContractRunner
    from promorang_gate.environments import Target


@pytest.fixture(scope="session")
def contract_schema() -> Any:
    """contract/openapi.yaml loaded by schemathesis (shared by every environment)."""
    from _schemathesis_support import load_schema

    return load_schema()


@pytest.fixture(scope="session")
def contract_runner(
    gate_target: Target, gate_run_id: str, contract_schema: Any
) -> Iterator[ContractRunner]:
    """Sends the contract's cases to ``gate_target`` through the write/undocumented-path guard."""
    from _schemathesis_support import Budget, ContractRunner, guarded_session
    from promorang_gate.http import guard
    from promorang_gate.redaction import Redactor

    def check_write(method: str, url: str) -> None:
        guard(method, url, gate_target.writes_allowed, gate_target.name)

    session = guarded_session(gate_target.api_url, check_write)
    redactor = Redactor([gate_target.service_role_key or "", gate_target.creator_token or ""])
    try:
        yield ContractRunner(
            schema=contract_schema,
            api_url=gate_target.api_url.rstrip("/"),
            env=gate_target.name,
            bucket=gate_target.bucket,
            run_id=gate_run_id,
            creator_token=gate_target.creator_token,
            writes_allowed=gate_target.writes_allowed,
            timeout_s=gate_target.request_timeout_s,
            max_examples=gate_target.contract_max_examples,
            budget=Budget(gate_target.contract_deadline_s),
            session=session,
            redactor=redactor,
            check_write=check_write,
        )
    finally:
        session.close()
