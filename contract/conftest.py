"""The contract suite's one fixture: a runner per environment, sending contract/openapi.yaml's
cases to it. The machinery is the engine's (``promorang_gate.contract``); schemathesis and
hypothesis are imported inside the fixture, so collecting other suites never loads them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from promorang_gate.contract.runner import ContractRunner
    from promorang_gate.target.environments import Target

SPEC_PATH = Path(__file__).resolve().with_name("openapi.yaml")
_preload: list[threading.Thread] = []


def _load_schema() -> None:
    try:
        from promorang_gate.contract.runner import load_schema

        load_schema(SPEC_PATH)
    except Exception:
        pass  # contract_runner loads it again, and reports what failed


def pytest_collection_finish(session: pytest.Session) -> None:
    """When contract tests are selected, import schemathesis and load the schema (~2.5 s) in
    the background while the smoke checks, which run first and mostly wait on the target, run:
    ``contract_runner`` then finds it loaded (``load_schema`` is cached)."""
    here = SPEC_PATH.parent
    if session.config.option.collectonly:
        return  # collecting alone never loads schemathesis
    if not _preload and any(here in item.path.parents for item in session.items):
        thread = threading.Thread(target=_load_schema, name="contract-schema", daemon=True)
        thread.start()
        _preload.append(thread)


@pytest.fixture(scope="session")
def contract_runner(
    request: pytest.FixtureRequest, gate_target: Target, gate_run_id: str
) -> Iterator[ContractRunner]:
    """Sends the contract's cases to ``gate_target`` through the write/undocumented-path guard;
    where it may write, a create that fails is looked for through the service role."""
    for thread in _preload:
        thread.join()
    from promorang_gate.contract.runner import open_runner

    find_rows = None
    if gate_target.writes_allowed:
        client = request.getfixturevalue("gate_supabase")

        def find_rows(title: str) -> list[str]:
            query = client.table("content_items").select("id").eq("title", title)
            return [str(row["id"]) for row in query.execute().data]

    with open_runner(gate_target, gate_run_id, SPEC_PATH, find_rows) as runner:
        yield runner
