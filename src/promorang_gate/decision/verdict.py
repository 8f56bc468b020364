"""The verdict, pure: test outcomes + a gate -> item statuses -> allow/block (architecture.md §4).

Rules:
- the gate's required items decide; other items that ran are reported out of scope;
- an item passes only when each of its declared checks ran for the env and every run of it
  passed; a failure or error in any phase fails it; a skip, xfail, deselection or a check that
  never ran (not selected, ``-x``, a crashed worker, a plugin that dropped it) leaves it
  ``not_verified``; an item without declared checks is judged on the tests that claimed it;
- manual items need a fresh sign-off; a sign-off stands in for a ``signable`` item its checks
  could not verify, never for a failed one;
- the verdict is ``allow`` iff every gating required item is ``passed`` or ``manual_signed``.
Tests not parametrized per env (env ``""``) count for every env.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from promorang_gate.decision.checklists import Catalog, ChecklistItem, SignOff

__all__ = [
    "CHECKLIST_PROPERTY",
    "STATUSES",
    "ChecklistResult",
    "EnvVerdict",
    "ItemResult",
    "Judging",
    "OutcomeCollector",
    "PhaseReport",
    "TestOutcome",
    "compute_verdict",
    "one_line",
    "verdict_of",
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
CHECK_PROPERTY = "gate_check"
# The user property naming the checklist items a test claims (set at collection).
CHECKLIST_PROPERTY = "gate_checklist"
#: The reason of a collected check that never reported back.
NEVER_RAN = "never ran"


def one_line(text: str | None, limit: int = MAX_REASON) -> str:
    """First non-empty line, stripped, at most ``limit`` characters, control and invisible
    formatting characters shown as ``?`` (a target's terminal escapes are never passed on;
    redact before calling)."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = line if len(line) <= limit else line[: limit - 1] + "…"
    return line if line.isprintable() else "".join(c if c.isprintable() else "?" for c in line)


@dataclass(frozen=True)
class PhaseReport:
    """What the gate keeps of one ``TestReport`` (texts already redacted)."""

    nodeid: str
    when: str
    outcome: str  # "passed" | "failed" | "skipped"
    message: str | None = None
    wasxfail: str | None = None
    user_properties: Sequence[tuple[str, object]] = ()
    detail: str | None = None
    #: Why the report is not what the gate saw the phase do (``outcome_rewritten: ...``).
    rewritten: str | None = None


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class

    nodeid: str
    env: str
    item_ids: tuple[str, ...]
    outcome: Outcome
    reason: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    #: The check it runs: ``path::test[params]`` without the env (see collection.check_id).
    check: str = ""
    detail: str | None = None

    def runs(self, check: str) -> bool:
        """Whether this outcome is a run of the declared ``check`` (function or one param)."""
        own = self.check or self.nodeid
        return own == check or own.split("[", 1)[0] == check


@dataclass
class _Merging:
    nodeid: str
    outcome: Outcome | None = None
    reason: str | None = None
    detail: str | None = None
    call_passed: bool = False
    rewritten: bool = False
    properties: list[tuple[str, object]] = field(default_factory=list)


class OutcomeCollector:
    """Merges the setup/call/teardown reports of each test into one ``TestOutcome``."""

    def __init__(self) -> None:
        self._tests: dict[str, _Merging] = {}
        self._deselected: dict[str, tuple[str, tuple[str, ...], str]] = {}
        self._collected: dict[str, tuple[str, tuple[str, ...], str]] = {}
        #: (nodeid, reason) of every report that said something its phase did not do.
        self.rewritten: list[tuple[str, str]] = []

    def add(self, report: PhaseReport) -> None:
        test = self._tests.setdefault(report.nodeid, _Merging(report.nodeid))
        for prop in report.user_properties:
            if prop not in test.properties or prop[0] == "gate_metric":
                test.properties.append(prop)
        if report.rewritten is not None:
            # What the gate saw decides, and a report that lied fails its items whatever it says.
            self.rewritten.append((report.nodeid, report.rewritten))
            if not test.rewritten:
                test.outcome, test.reason, test.detail = "failed", report.rewritten, None
                test.rewritten = True
            return
        if test.rewritten:
            return
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
                test.detail = report.detail
        elif report.outcome == "skipped":
            if test.outcome != "failed":
                test.outcome = "skipped"
                test.reason = test.reason or one_line(report.message or "skipped")
        elif report.when == "call":
            test.call_passed = True

    def deselect(self, nodeid: str, env: str, item_ids: Iterable[str], check: str = "") -> None:
        self._deselected[nodeid] = (env, tuple(item_ids), check)

    def collect(self, nodeid: str, env: str, item_ids: Iterable[str], check: str = "") -> None:
        self._collected[nodeid] = (env, tuple(item_ids), check)

    def outcomes(self) -> list[TestOutcome]:
        result: list[TestOutcome] = []
        for test in self._tests.values():
            env, ids, metrics, check = _properties(test.properties)
            if not ids:
                continue
            outcome: Outcome = test.outcome or ("passed" if test.call_passed else "skipped")
            reason = test.reason if outcome != "passed" else None
            if outcome == "skipped" and reason is None:
                reason = "did not run"
            detail = test.detail if outcome == "failed" else None
            result.append(
                TestOutcome(test.nodeid, env, ids, outcome, reason, metrics, check, detail)
            )
        for nodeid, (env, ids, check) in self._deselected.items():
            if nodeid not in self._tests and ids:
                reason = "deselected"
                result.append(TestOutcome(nodeid, env, ids, "deselected", reason, check=check))
        for nodeid, (env, ids, check) in self._collected.items():
            if nodeid not in self._tests and nodeid not in self._deselected and ids:
                result.append(TestOutcome(nodeid, env, ids, "skipped", NEVER_RAN, check=check))
        return sorted(result, key=lambda o: o.nodeid)


def _properties(
    props: Iterable[tuple[str, object]],
) -> tuple[str, tuple[str, ...], dict[str, Any], str]:
    env = check = ""
    ids: list[str] = []
    metrics: dict[str, Any] = {}
    for name, value in props:
        if name == "gate_env":
            env = str(value)
        elif name == CHECK_PROPERTY:
            check = str(value)
        elif name == "gate_checklist":
            ids += [i for i in str(value).split() if i not in ids]
        elif name == "gate_metric":
            try:
                data = json.loads(str(value))
                metrics[str(data["name"])] = data["value"]
            except (ValueError, KeyError, TypeError):
                continue
    return env, tuple(ids), metrics, check


@dataclass(frozen=True)
class ItemResult:
    id: str
    text: str
    status: Status
    tests: tuple[str, ...]
    reason: str | None
    metrics: Mapping[str, Any]
    gating: bool = True
    detail: str | None = None
    checks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "checks": list(self.checks),
            "tests": list(self.tests),
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
    gate: str
    verdict: Literal["allow", "block"]
    checklists: tuple[ChecklistResult, ...]
    out_of_scope: tuple[ItemResult, ...] = ()

    @property
    def items(self) -> list[ItemResult]:
        return [item for checklist in self.checklists for item in checklist.items]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts

    @property
    def blockers(self) -> list[ItemResult]:
        return [i for i in self.items if i.gating and i.status not in ("passed", "manual_signed")]


@dataclass(frozen=True)
class Judging:
    """What the verdict needs besides outcomes: time, sign-off age, how to re-run a check."""

    now: dt.datetime
    signoff_max_age_s: float
    #: The command that runs the whole gate, quoted in "did not run" reasons.
    rerun: str = "pytest"
    #: The run stopped before its end (-x, --maxfail): checks that never ran say so.
    stopped_early: bool = False
    #: How to sign an item off, with ``{item}`` in it.
    signoff_command: str = "promorang-gate signoff {item} --by NAME"


def _signoff_status(
    item: ChecklistItem, signoff: SignOff | None, judging: Judging
) -> tuple[Status, str]:
    """(manual_signed, how) for a valid sign-off, else (manual_missing, what to do)."""
    command = judging.signoff_command.format(item=item.id)
    if signoff is None:
        return "manual_missing", f"no sign-off: {command}"
    if signoff.expired(judging.now, judging.signoff_max_age_s):
        return "manual_missing", one_line(f"sign-off expired ({signoff.describe()}): {command}")
    return "manual_signed", one_line(signoff.describe())


def _unverified_reason(
    item: ChecklistItem, tests: Sequence[TestOutcome], judging: Judging
) -> str | None:
    """Why the item is not verified (a missing check, a skip, a deselection), or None."""
    why = "the run stopped early (-x/--maxfail)" if judging.stopped_early else "not run"
    for check in item.checks:
        runs = [t for t in tests if t.runs(check)]
        if not runs:
            return f"{check} never ran ({why}); run the whole gate: {judging.rerun}"
    for test in tests:
        if test.outcome == "skipped" and test.reason == NEVER_RAN:
            name = test.check or test.nodeid
            return f"{name} never ran ({why}); run the whole gate: {judging.rerun}"
    if not tests:
        return f"no test verifies it in this run; run the whole gate: {judging.rerun}"
    for kind in ("skipped", "deselected"):
        for test in tests:
            if test.outcome == kind:
                if kind == "deselected":
                    return f"{test.check or test.nodeid} was deselected; run: {judging.rerun}"
                return test.reason or "skipped"
    return None


def _checks_declined(item: ChecklistItem, tests: Sequence[TestOutcome]) -> bool:
    """Every check of the item ran and skipped itself (e.g. no application repository): the
    one case a sign-off may stand in for. Deselected, never run or xfailed checks are not."""
    ran = all(any(t.runs(check) for t in tests) for check in item.checks)
    skipped = [t for t in tests if t.outcome == "skipped"]
    declined = all(
        t.reason != NEVER_RAN and not (t.reason or "").startswith(("xfail", "xpass", "did not run"))
        for t in skipped
    )
    return ran and bool(tests) and len(skipped) == len(tests) and declined


def _item_result(
    item: ChecklistItem,
    tests: Sequence[TestOutcome],
    signoff: SignOff | None,
    judging: Judging,
) -> ItemResult:
    nodeids = tuple(sorted({t.nodeid for t in tests}))
    metrics: dict[str, Any] = {}
    for test in tests:
        metrics.update(test.metrics)
    failed = [t for t in tests if t.outcome == "failed"]
    detail: str | None = None
    status: Status
    reason: str | None
    if failed:
        status, reason, detail = "failed", failed[0].reason, failed[0].detail
    elif item.manual:
        status, reason = _signoff_status(item, signoff, judging)
    elif (unverified := _unverified_reason(item, tests, judging)) is not None:
        status, reason = "not_verified", one_line(unverified)
        if item.signable and signoff is not None and _checks_declined(item, tests):
            signed, how = _signoff_status(item, signoff, judging)
            if signed == "manual_signed":
                status, reason = signed, one_line(f"{how} (in place of: {unverified})")
    else:
        status, reason = "passed", None
    return ItemResult(
        item.id, item.text, status, nodeids, reason, metrics, item.gating, detail, item.checks
    )


def verdict_of(items: Iterable[ItemResult]) -> Literal["allow", "block"]:
    ok = all(i.status in ("passed", "manual_signed") or not i.gating for i in items)
    return "allow" if ok else "block"


def compute_verdict(
    env: str,
    catalog: Catalog,
    outcomes: Iterable[TestOutcome],
    signoffs: Mapping[str, SignOff],
    *,
    gate: str,
    required: Sequence[str],
    judging: Judging,
) -> EnvVerdict:
    """The verdict of ``env`` under the gate ``gate`` requiring the items ``required``."""
    mine = sorted((o for o in outcomes if o.env in (env, "")), key=lambda o: o.nodeid)
    wanted = set(required)
    results: list[ChecklistResult] = []
    out_of_scope: list[ItemResult] = []
    for checklist in catalog.checklists:
        items: list[ItemResult] = []
        for item in checklist.items:
            tests = [o for o in mine if item.id in o.item_ids]
            if item.id in wanted:
                items.append(_item_result(item, tests, signoffs.get(item.id), judging))
            elif any(t.outcome != "deselected" for t in tests):
                out_of_scope.append(_item_result(item, tests, signoffs.get(item.id), judging))
        if items:
            results.append(ChecklistResult(checklist.id, checklist.title, tuple(items)))
    all_items = [i for c in results for i in c.items]
    return EnvVerdict(env, gate, verdict_of(all_items), tuple(results), tuple(out_of_scope))
