"""The contract suite's one fixture: a runner per environment, sending contract/openapi.yaml's
cases to it. The machinery is the engine's (``promorang_gate.contract``); schemathesis and
hypothesis are imported inside the fixture, so collecting other suites never loads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from promorang_gate import warmup
from promorang_gate.target.http import refuse_given_up

if TYPE_CHECKING:
    from promorang_gate.contract.runner import ContractRunner
    from promorang_gate.target.environments import Target

SPEC_PATH = Path(__file__).resolve().with_name("openapi.yaml")


def _prepare(request: pytest.FixtureRequest) -> None:
    """schemathesis, the spec, and the invalid cases of the selected invalid-input tests (from
    pytest's cache when an earlier run stored them), while the embedded sandbox starts; without
    it (a remote env, an attached sandbox) each invalid-input test generates its own."""
    from promorang_gate.contract.runner import prepare

    invalid = {
        item.callspec.params["label"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_invalid_input_is_refused"
    }
    prepare(SPEC_PATH, sorted(invalid), getattr(request.config, "cache", None))


def pytest_collection_finish(session: pytest.Session) -> None:
    """With contract tests selected, their preparation is done while the embedded sandbox
    starts (promorang_gate.warmup), not at the first contract test."""
    if any("contract_runner" in getattr(item, "fixturenames", ()) for item in session.items):
        warmup.prepare(session.config, _prepare)


@pytest.fixture(scope="session")
def contract_runner(
    request: pytest.FixtureRequest, gate_target: Target, gate_run_id: str
) -> Iterator[ContractRunner]:
    """Sends the contract's cases to ``gate_target`` through the write/undocumented-path guard;
    where it may write, a create that fails is looked for through the service role. Against
    an API given up earlier in the run, every contract test fails at once, nothing imported."""
    refuse_given_up(gate_target.api_url, "the contract's requests")
    from promorang_gate.contract.runner import open_runner

    find_rows = None
    if gate_target.writes_allowed:
        client = request.getfixturevalue("gate_supabase")

        def find_rows(title: str) -> list[str]:
            query = client.table("content_items").select("id").eq("title", title)
            return [str(row["id"]) for row in query.execute().data]

    # The creator's token as the gate's API client keeps it: renewed during a long run.
    creator = request.getfixturevalue("gate_creator_auth")
    cache = getattr(request.config, "cache", None)
    with open_runner(gate_target, gate_run_id, SPEC_PATH, find_rows, creator, cache) as runner:
        yield runner
