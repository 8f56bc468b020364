"""The contract's generated cases kept in pytest's cache between runs (the invalid ones, and the
valid ones drawn for each operation): a run that reads them sends exactly the cases a run that
generates them sends, and anything else in the cache is ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from project_helpers import DictCache
from promorang_gate.contract import cases, runner
from promorang_gate.contract.runner import (
    INVALID_CACHE_KEY,
    VALID_CACHE_KEY,
    keep_invalid,
    keep_valid,
    load_schema,
    prepare,
)

SPEC = Path(__file__).resolve().parents[2] / "contract" / "openapi.yaml"
INVALID = ["POST /api/content", "POST /api/content/upload-image", "PUT /api/content/{id}"]
TARGET_ID = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new interpreter: no coverage case kept in memory."""
    monkeypatch.setattr(cases, "_COVERAGE", {})
    monkeypatch.setattr(cases, "_VALID", {})


def _wire(case: Any) -> tuple[Any, ...]:
    """Everything of ``case`` that goes on the wire."""
    body = json.dumps(case.body, sort_keys=True) if case.body is not cases.NOT_SET else None
    return (
        case.method,
        case.path_parameters,
        case.query,
        dict(case.headers or {}),
        body,
        case.media_type,
    )


def _operation(label: str) -> Any:
    method, path = label.split(" ", 1)
    return load_schema(SPEC)[path][method]


def _sent(label: str) -> list[Any]:
    """Each invalid case of ``label`` as it goes on the wire, and its name."""
    invalid = cases.invalid_cases(load_schema(SPEC), _operation(label), TARGET_ID)
    return [(*_wire(case), what) for case, what in invalid]


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("generated, not read from the cache")


def _generate_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cases, "_recipes", _refuse)


def test_a_run_reading_the_cache_sends_what_a_generating_run_sends(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DictCache()
    prepare(SPEC, INVALID, cache)
    generated = {label: _sent(label) for label in INVALID}
    stored = json.loads(cache.values[INVALID_CACHE_KEY])
    assert sorted(stored["cases"]) == INVALID
    monkeypatch.setattr(cases, "_COVERAGE", {})  # the next run's process
    _generate_fails(monkeypatch)
    prepare(SPEC, INVALID, cache)
    read = {label: _sent(label) for label in INVALID}
    assert read == generated
    assert sum(len(sent) for sent in read.values()) > 100
    assert any(body and '"title": false' in body for *_, body, _, _ in read["POST /api/content"])


def test_each_invalid_input_test_reads_its_operation_from_the_cache(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that did not start the sandbox prepares nothing ahead: each invalid-input test
    keeps its own operation's cases, read from what another process stored, one by one."""
    cache = DictCache()
    for label in INVALID:
        keep_invalid(load_schema(SPEC), _operation(label), SPEC, cache)
    generated = {label: _sent(label) for label in INVALID}
    assert sorted(json.loads(cache.values[INVALID_CACHE_KEY])["cases"]) == INVALID
    monkeypatch.setattr(cases, "_COVERAGE", {})  # the next run's process
    _generate_fails(monkeypatch)
    for label in reversed(INVALID):
        keep_invalid(load_schema(SPEC), _operation(label), SPEC, cache)
    assert {label: _sent(label) for label in INVALID} == generated


@pytest.mark.parametrize(
    "entry",
    [
        {"digest": "another spec or schemathesis", "cases": {}},
        "not a mapping",
        {"cases": {"POST /api/content": [{"method": "POST"}]}},
    ],
    ids=["other digest", "garbage", "no digest"],
)
def test_an_entry_of_another_spec_or_version_or_garbage_is_generated_again(
    fresh_process: None, entry: Any
) -> None:
    cache = DictCache()
    cache.set(INVALID_CACHE_KEY, entry)
    prepare(SPEC, ["POST /api/content"], cache)
    assert len(_sent("POST /api/content")) > 10
    assert json.loads(cache.values[INVALID_CACHE_KEY])["digest"] == runner._cases_digest(SPEC)


def test_a_damaged_case_is_generated_again(fresh_process: None) -> None:
    cache = DictCache()
    prepare(SPEC, ["POST /api/content"], cache)
    expected = _sent("POST /api/content")
    stored = json.loads(cache.values[INVALID_CACHE_KEY])
    stored["cases"]["POST /api/content"][0]["fields"] = {"body": {"value": {}}}
    cache.set(INVALID_CACHE_KEY, stored)
    cases._COVERAGE.clear()
    prepare(SPEC, ["POST /api/content"], cache)
    assert _sent("POST /api/content") == expected


def test_the_digest_follows_the_spec(tmp_path: Path) -> None:
    changed = tmp_path / "openapi.yaml"
    changed.write_bytes(SPEC.read_bytes() + b"\n# changed\n")
    assert runner._cases_digest(changed) != runner._cases_digest(SPEC)


def test_a_cache_that_cannot_be_written_costs_only_the_speed_up(fresh_process: None) -> None:
    class ReadOnly(DictCache):
        def set(self, key: str, value: object) -> None:
            import warnings

            warnings.warn("cache could not write path", pytest.PytestCacheWarning, stacklevel=1)
            raise OSError("read-only file system")

    prepare(SPEC, ["POST /api/content"], ReadOnly())
    assert len(_sent("POST /api/content")) > 10


# --- the drawn valid cases ----------------------------------------------------------------------

VALID = ["POST /api/content", "POST /api/content/upload-image", "GET /api/content"]


def _valid_sent(label: str, examples: int = 10) -> list[Any]:
    """Each drawn valid case of ``label`` as it goes on the wire."""
    return [_wire(c) for c in cases.valid_cases(load_schema(SPEC), _operation(label), examples)]


def test_the_drawn_valid_cases_are_the_same_in_every_process(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = {label: _valid_sent(label) for label in VALID}
    monkeypatch.setattr(cases, "_VALID", {})  # the next run's process
    assert {label: _valid_sent(label) for label in VALID} == drawn
    assert all(len(sent) == 10 for sent in drawn.values()), drawn
    assert len(_valid_sent("POST /api/content", examples=3)) == 3


def test_a_run_reading_the_valid_cases_sends_what_a_drawing_run_sends(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DictCache()
    for label in VALID:
        keep_valid(load_schema(SPEC), _operation(label), 10, SPEC, cache)
    drawn = {label: _valid_sent(label) for label in VALID}
    stored = json.loads(cache.values[VALID_CACHE_KEY])
    assert stored["digest"] == runner._cases_digest(SPEC)
    assert sorted(stored["cases"]) == sorted(f"{label} 10" for label in VALID)
    monkeypatch.setattr(cases, "_VALID", {})  # the next run's process
    monkeypatch.setattr(cases, "_draw_valid", _refuse)
    for label in VALID:
        keep_valid(load_schema(SPEC), _operation(label), 10, SPEC, cache)
    assert {label: _valid_sent(label) for label in VALID} == drawn


def test_valid_cases_of_another_spec_or_version_are_drawn_again(fresh_process: None) -> None:
    cache = DictCache()
    cache.set(VALID_CACHE_KEY, {"digest": "another spec", "cases": {"POST /api/content 10": []}})
    keep_valid(load_schema(SPEC), _operation("POST /api/content"), 10, SPEC, cache)
    assert len(_valid_sent("POST /api/content")) == 10
    assert json.loads(cache.values[VALID_CACHE_KEY])["digest"] == runner._cases_digest(SPEC)
