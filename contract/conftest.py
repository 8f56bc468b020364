"""The contract suite's one fixture: a runner per environment, sending contract/openapi.yaml's
cases to it. The machinery is the engine's (``promorang_gate.contract``); schemathesis and
hypothesis are imported inside the fixture, so collecting other suites never loads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from promorang_gate.contract.runner import ContractRunner
    from promorang_gate.environments import Target

SPEC_PATH = Path(__file__).resolve().with_name("openapi.yaml")


@pytest.fixture(scope="session")
def contract_runner(gate_target: Target, gate_run_id: str) -> Iterator[ContractRunner]:
    """Sends the contract's cases to ``gate_target`` through the write/undocumented-path guard."""
    from promorang_gate.contract.runner import open_runner

    with open_runner(gate_target, gate_run_id, SPEC_PATH) as runner:
        yield runner
