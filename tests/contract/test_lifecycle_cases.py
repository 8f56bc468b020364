"""The lifecycles' cases: the known-good create first, then drawn creates (and, where the update
is the focus, a drawn update each), the same on every run and read from pytest's cache like the
operations' own drawn cases, so a run drives no hypothesis engine, and drawn only once the
known-good case went through; the first lifecycle that fails is the finding, and no later one is
sent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from project_helpers import DictCache
from promorang_gate.contract import cases
from promorang_gate.contract.errors import ContractViolation
from promorang_gate.contract.lifecycle import Lifecycle
from promorang_gate.contract.runner import VALID_CACHE_KEY, Budget, ContractRunner, load_schema
from promorang_gate.contract.transport import OriginUnavailable
from promorang_gate.target import breaker

SPEC = Path(__file__).resolve().parents[2] / "contract" / "openapi.yaml"
CREATE, UPDATE = "POST /api/content", "PUT /api/content/{id}"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Each lifecycle's (create, update) as the runner hands them over; nothing is sent."""
    monkeypatch.setattr(cases, "_VALID", {})  # as in a new interpreter
    pairs: list[tuple[Any, Any]] = []
    monkeypatch.setattr(Lifecycle, "run", lambda self, c, u: pairs.append((c, u and u())))
    return pairs


def _runner(cache: DictCache, max_examples: int = 10) -> ContractRunner:
    return ContractRunner(
        schema=load_schema(SPEC), api_url="http://127.0.0.1:9", env="sandbox", bucket="b",
        run_id="r", creator_token="t", writes_allowed=True, timeout_s=1.0,
        max_examples=max_examples, budget=Budget(60), session=requests.Session(), redact=str,
        check_write=lambda m, u: None, cache=cache, spec_path=SPEC,
    )  # fmt: skip


def _wire(case: Any) -> tuple[Any, ...]:
    if case is None:
        return (None,)
    return (case.method, case.path_parameters, json.dumps(case.body, sort_keys=True, default=str))


def test_the_known_good_create_comes_first_then_drawn_ones(sent: list[Any]) -> None:
    _runner(DictCache()).lifecycle(UPDATE, ledger=None)
    assert len(sent) == 3  # ceil(10 / 4): the four focuses share one operation's examples
    (first, _), *drawn = sent
    assert first.body == cases.KNOWN_GOOD[CREATE]
    assert all(c.operation.label == CREATE for c, _ in drawn)
    assert all(u.operation.label == UPDATE for _, u in sent)


def test_only_the_update_focus_sends_updates(sent: list[Any]) -> None:
    _runner(DictCache()).lifecycle(CREATE, ledger=None)
    assert len(sent) == 3
    assert all(update is None for _, update in sent)


def test_a_run_reading_the_cache_sends_what_the_drawing_run_sent(
    sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DictCache()
    _runner(cache).lifecycle(UPDATE, ledger=None)
    drawn = [(_wire(c), _wire(u)) for c, u in sent]
    assert sorted(json.loads(cache.values[VALID_CACHE_KEY])["cases"]) == [
        f"{CREATE} 2",
        f"{UPDATE} 3",
    ]
    sent.clear()
    monkeypatch.setattr(cases, "_VALID", {})  # the next run's process: nothing may be drawn
    monkeypatch.setattr(cases, "_draw_valid", _refuse)
    _runner(cache).lifecycle(UPDATE, ledger=None)
    assert [(_wire(c), _wire(u)) for c, u in sent] == drawn


def test_the_first_failing_lifecycle_is_the_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cases, "_VALID", {})
    runs: list[Any] = []

    def fails(self: Lifecycle, create: Any, update: Any) -> None:
        runs.append(create)
        raise ContractViolation("POST /api/content answered 500", "body '...'")

    monkeypatch.setattr(Lifecycle, "run", fails)
    with pytest.raises(ContractViolation, match=r"^POST /api/content answered 500\n") as caught:
        _runner(DictCache()).lifecycle(CREATE, ledger=None)
    assert len(runs) == 1
    assert caught.value.headline == "POST /api/content answered 500"


def test_one_example_is_the_known_good_lifecycle_alone(sent: list[Any]) -> None:
    _runner(DictCache(), max_examples=1).lifecycle(CREATE, ledger=None)
    assert [c.body for c, _ in sent] == [cases.KNOWN_GOOD[CREATE]]


def _refuse(*args: Any) -> Any:
    raise AssertionError("drawn again although the cache holds the cases")


def test_a_first_failure_costs_no_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target that fails the known-good case (one that does not answer at all) is not worth
    drawing cases for, in a run whose cache holds none."""
    monkeypatch.setattr(cases, "_VALID", {})
    monkeypatch.setattr(cases, "_draw_valid", _refuse)

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise ContractViolation("POST /api/content answered 503", "")

    monkeypatch.setattr(Lifecycle, "run", fails)
    monkeypatch.setattr(ContractRunner, "send", fails)
    for focus in (CREATE, UPDATE):
        with pytest.raises(ContractViolation, match="answered 503"):
            _runner(DictCache()).lifecycle(focus, ledger=None)
    with pytest.raises(ContractViolation, match="answered 503"):
        _runner(DictCache()).fuzz(CREATE, ledger=None)


def test_a_given_up_origin_fails_every_operation_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the API's origin is given up (a black hole), no case is drawn or generated for it:
    each operation fails as its first request would, naming the origin."""
    monkeypatch.setattr(cases, "_VALID", {})
    monkeypatch.setattr(cases, "_COVERAGE", {})
    monkeypatch.setattr(cases, "_draw_valid", _refuse)
    monkeypatch.setattr(cases, "_recipes", _refuse)
    runner = _runner(DictCache())
    breaker.reset()
    try:
        for path in ("/api/health", "/api/content", "/api/content/1"):
            breaker.timed_out(runner.api_url + path, 10.0)
        for scenario, label, first in [
            (runner.fuzz, "GET /api/health", "GET /api/health"),
            (runner.negative, CREATE, CREATE),
            (runner.lifecycle, UPDATE, CREATE),  # a lifecycle's first request is its create
        ]:
            with pytest.raises(OriginUnavailable, match=rf"^{re.escape(first)} not sent: .*"):
                scenario(label, None)
    finally:
        breaker.reset()


def test_a_budget_spent_during_the_first_lifecycle_stops_the_rest_undrawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cases, "_VALID", {})
    monkeypatch.setattr(cases, "_draw_valid", _refuse)
    runner = _runner(DictCache())
    creates: list[Any] = []

    def spends(self: Lifecycle, create: Any, update: Any) -> None:
        creates.append(create)
        runner.budget.seconds = 0  # the env's budget runs out while the first one is sent

    monkeypatch.setattr(Lifecycle, "run", spends)
    runner.lifecycle(CREATE, ledger=None)
    assert [c.body for c in creates] == [cases.KNOWN_GOOD[CREATE]]
