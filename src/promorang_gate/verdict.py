"""The verdict, pure: test outcomes -> item statuses -> allow/block (architecture.md §4).

Rules: an item passes only when every selected test of it ran and passed; a failure or error in
any phase fails it; a skip, xfail, deselection or no test at all leaves it ``not_verified``.
Manual items need a sign-off. The verdict is ``allow`` iff every gating item in scope is
``passed`` or ``manual_signed``. A checklist is in scope when any test outcome for the env
carries one of its item ids; tests not parametrized per env (env ``""``) count for every env.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from promorang_gate.checklists import Catalog, ChecklistItem, SignOff

__all__ = [
    "STATUSES",
    "ChecklistResult",
    "EnvVerdict",
    "ItemResult",
    "OutcomeCollector",
    "PhaseReport",
    "TestOutcome",
    "compute_verdict",
    "one_line",
]

Status = Literal["passed", "failed", "not_verified", "manual_signed", "manual_missing"]
Outcome = Literal["passed", "failed", "skipped", "deselected"]
STATUSES: tuple[Status, ...] = (
    "passed",
    "failed",
    "not_verified",
    "manual_signed",
    "manual_missing",
)
MAX_REASON = 300


def one_line(text: str | None, limit: int = MAX_REASON) -> str:
    """First non-empty line, stripped, at most ``limit`` characters."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class PhaseReport:
    """What the gate keeps of one ``TestReport`` (texts already redacted)."""

    nodeid: str
    when: str
    outcome: str  # "passed" | "failed" | "skipped"
    message: str | None = None
    wasxfail: str | None = None
    user_properties: Sequence[tuple[str, object]] = ()


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class

    nodeid: str
    env: str
    item_ids: tuple[str, ...]
    outcome: Outcome
    reason: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Merging:
    nodeid: str
    outcome: Outcome | None = None
    reason: str | None = None
    call_passed: bool = False
    properties: list[tuple[str, object]] = field(default_factory=list)


class OutcomeCollector:
    """Merges the setup/call/teardown reports of each test into one ``TestOutcome``."""

    def __init__(self) -> None:
        self._tests: dict[str, _Merging] = {}
        self._deselected: dict[str, tuple[str, tuple[str, ...]]] = {}

    def add(self, report: PhaseReport) -> None:
        test = self._tests.setdefault(report.nodeid, _Merging(report.nodeid))
        for prop in report.user_properties:
            if prop not in test.properties or prop[0] == "gate_metric":
                test.properties.append(prop)
        if report.wasxfail is not None and report.outcome in ("skipped", "passed"):
            label = "xfail" if report.outcome == "skipped" else "xpass"
            if test.outcome != "failed":
                test.outcome = "skipped"
                test.reason = test.reason or one_line(f"{label}: {report.wasxfail}".rstrip(": "))
            return
        if report.outcome == "failed":
            if test.outcome != "failed":
                test.outcome = "failed"
                prefix = "" if report.when == "call" else f"error in {report.when}: "
                test.reason = one_line(prefix + (report.message or "failed"))
        elif report.outcome == "skipped":
            if test.outcome != "failed":
                test.outcome = "skipped"
                test.reason = test.reason or one_line(report.message or "skipped")
        elif report.when == "call":
            test.call_passed = True

    def deselect(self, nodeid: str, env: str, item_ids: Iterable[str]) -> None:
        self._deselected[nodeid] = (env, tuple(item_ids))

    def outcomes(self) -> list[TestOutcome]:
        result: list[TestOutcome] = []
        for test in self._tests.values():
            env, ids, metrics = _properties(test.properties)
            if not ids:
                continue
            outcome: Outcome = test.outcome or ("passed" if test.call_passed else "skipped")
            reason = test.reason if outcome != "passed" else None
            if outcome == "skipped" and reason is None:
                reason = "did not run"
            result.append(TestOutcome(test.nodeid, env, ids, outcome, reason, metrics))
        for nodeid, (env, ids) in self._deselected.items():
            if nodeid not in self._tests and ids:
                result.append(TestOutcome(nodeid, env, ids, "deselected", "deselected"))
        return sorted(result, key=lambda o: o.nodeid)


def _properties(props: Iterable[tuple[str, object]]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    env = ""
    ids: list[str] = []
    metrics: dict[str, Any] = {}
    for name, value in props:
        if name == "gate_env":
            env = str(value)
        elif name == "gate_checklist":
            ids += [i for i in str(value).split() if i not in ids]
        elif name == "gate_metric":
            try:
                data = json.loads(str(value))
                metrics[str(data["name"])] = data["value"]
            except (ValueError, KeyError, TypeError):
                continue
    return env, tuple(ids), metrics


@dataclass(frozen=True)
class ItemResult:
    id: str
    text: str
    status: Status
    tests: tuple[str, ...]
    reason: str | None
    metrics: Mapping[str, Any]
    gating: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "status": self.status,
            "tests": list(self.tests),
            "reason": self.reason,
            "metrics": dict(self.metrics),
            "gating": self.gating,
        }


@dataclass(frozen=True)
class ChecklistResult:
    id: str
    title: str
    items: tuple[ItemResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "items": [i.to_json() for i in self.items]}


@dataclass(frozen=True)
class EnvVerdict:
    environment: str
    verdict: Literal["allow", "block"]
    checklists: tuple[ChecklistResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for checklist in self.checklists:
            for item in checklist.items:
                counts[item.status] += 1
        return counts


def _item_result(
    item: ChecklistItem, tests: Sequence[TestOutcome], signoff: SignOff | None
) -> ItemResult:
    nodeids = tuple(sorted({t.nodeid for t in tests}))
    metrics: dict[str, Any] = {}
    for test in tests:
        metrics.update(test.metrics)
    failed = [t for t in tests if t.outcome == "failed"]
    unverified = [t for t in tests if t.outcome in ("skipped", "deselected")]
    status: Status
    reason: str | None
    if failed:
        status, reason = "failed", failed[0].reason
    elif item.manual:
        if signoff is not None:
            status, reason = "manual_signed", one_line(signoff.describe())
        else:
            status, reason = "manual_missing", "no sign-off"
    elif not tests:
        status, reason = "not_verified", "no test selected"
    elif unverified:
        skipped = [t for t in unverified if t.outcome == "skipped"]
        status, reason = "not_verified", (skipped or unverified)[0].reason
    else:
        status, reason = "passed", None
    return ItemResult(item.id, item.text, status, nodeids, reason, metrics, item.gating)


def compute_verdict(
    env: str,
    catalog: Catalog,
    outcomes: Iterable[TestOutcome],
    signoffs: Mapping[str, SignOff],
) -> EnvVerdict | None:
    """The verdict of ``env``, or ``None`` when no checklist is in scope."""
    mine = sorted((o for o in outcomes if o.env in (env, "")), key=lambda o: o.nodeid)
    referenced = {i for o in mine if o.outcome != "deselected" for i in o.item_ids}
    results: list[ChecklistResult] = []
    for checklist in catalog.checklists:
        if not any(item.id in referenced for item in checklist.items):
            continue
        items = tuple(
            _item_result(item, [o for o in mine if item.id in o.item_ids], signoffs.get(item.id))
            for item in checklist.items
        )
        results.append(ChecklistResult(checklist.id, checklist.title, items))
    if not results:
        return None
    ok = all(
        item.status in ("passed", "manual_signed") or not item.gating
        for checklist in results
        for item in checklist.items
    )
    return EnvVerdict(env, "allow" if ok else "block", tuple(results))
