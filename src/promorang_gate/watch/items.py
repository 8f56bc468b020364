"""The watch's checklist items (``checklists/monitoring.yaml``, gate ``watch``) and how each
interval is judged against its threshold.

Each interval gives every item one judgement: ``ok``, ``warn``, ``breach``, ``warming`` (data,
but the window holds fewer samples than its minimum) or ``no_data``. An item passes only if
every interval produced data and its last window held its minimum; it fails when it breached
``failure_limit`` intervals in a row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from promorang_gate.decision.checklists import Catalog, ChecklistItem
from promorang_gate.errors import ConfigError
from promorang_gate.watch.baseline import Baseline, Margin
from promorang_gate.watch.measures import Reading
from promorang_gate.watch.windows import Series, Window

__all__ = ["MEASURES", "ItemState", "Judgement", "WatchSpec", "judge", "watch_specs"]

MEASURES = (
    "error_rate",
    "latency_p95",
    "connections",
    "storage_quota",
    "webhook_failures",
    "no_regression",
)
#: The measures read once per interval by a reader (the others come from the probes).
READ_MEASURES = ("connections", "storage_quota", "webhook_failures")
#: The reading of real traffic's error ratio, where the env declares a Prometheus endpoint.
REAL_ERROR_RATE = "real_error_rate"
State = Literal["ok", "warn", "breach", "warming", "no_data"]
_NUMBERS = (
    "window_s",
    "breach_above",
    "warn_above",
    "min_samples",
    "read_budget_s",
    "margin_ratio",
    "margin_min_s",
)


@dataclass(frozen=True)
class WatchSpec:
    item_id: str
    text: str
    measure: str
    gating: bool
    window_s: float = 300.0
    breach_above: float | None = None
    warn_above: float | None = None
    min_samples: int = 1
    read_budget_s: float | None = None
    read_budget_source: str = ""
    margin_ratio: float = 0.5
    margin_min_s: float = 0.1

    @classmethod
    def from_item(cls, item: ChecklistItem) -> WatchSpec:
        raw: dict[str, Any] = dict(item.watch)
        at = f"checklist item {item.id!r}, 'watch'"
        measure = raw.pop("measure")
        if measure not in MEASURES:
            raise ConfigError(f"{at}: measure {measure!r} is not one of {', '.join(MEASURES)}")
        source = raw.pop("read_budget_source", "")
        unknown = sorted(set(raw) - set(_NUMBERS))
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}")
        for key, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{at}: {key} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{at}: {key} must be a finite number ≥ 0, got {value!r}")
        if measure == "latency_p95" and (not raw.get("read_budget_s") or not source):
            raise ConfigError(f"{at}: a latency item declares read_budget_s and its source")
        if measure not in ("latency_p95", "no_regression") and "breach_above" not in raw:
            raise ConfigError(f"{at}: breach_above is required")
        return cls(
            item.id,
            item.text,
            str(measure),
            item.gating,
            window_s=float(raw.get("window_s", 300.0)),
            breach_above=_opt(raw.get("breach_above")),
            warn_above=_opt(raw.get("warn_above")),
            min_samples=max(1, int(raw.get("min_samples", 1))),
            read_budget_s=_opt(raw.get("read_budget_s")),
            read_budget_source=str(source),
            margin_ratio=float(raw.get("margin_ratio", 0.5)),
            margin_min_s=float(raw.get("margin_min_s", 0.1)),
        )


def _opt(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def watch_specs(catalog: Catalog, required: Sequence[str]) -> list[WatchSpec]:
    """The specs of the gate's required items, in catalog order."""
    return [WatchSpec.from_item(catalog.items[i]) for i in required]


@dataclass(frozen=True)
class Judgement:
    item_id: str
    interval: int
    state: State
    value: float | None = None
    threshold: float | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "figures": dict(self.figures),
            "reason": self.reason,
        }


def _above(value: float, spec: WatchSpec) -> State:
    if spec.breach_above is not None and value > spec.breach_above:
        return "breach"
    if spec.warn_above is not None and value > spec.warn_above:
        return "warn"
    return "ok"


def judge(spec: WatchSpec, series: Series, baseline: Baseline | None = None) -> Judgement:
    """The judgement of ``spec`` on the last interval of ``series`` (``baseline``: the last
    allowed watch's figures, for ``no_regression``)."""
    interval = series.intervals[-1]
    if spec.measure == "no_regression":
        return _regression(spec, series, baseline)
    if spec.measure in READ_MEASURES:
        reading = interval.readings.get(spec.measure)
        if reading is None or reading.value is None:
            why = reading.missing if reading is not None else "not measured"
            return Judgement(spec.item_id, interval.index, "no_data", reason=why)
        state = _above(reading.value, spec)
        return Judgement(
            spec.item_id, interval.index, state, reading.value, spec.breach_above, reading.figures
        )
    if not interval.probes:
        return Judgement(spec.item_id, interval.index, "no_data", reason="no probe ran")
    window = series.window(spec.window_s)
    if spec.measure == "error_rate" and REAL_ERROR_RATE in interval.readings:
        return _real_error_rate(spec, interval.readings[REAL_ERROR_RATE], window, interval.index)
    if spec.measure == "error_rate":
        value, threshold, samples = window.error_rate, spec.breach_above, window.requests
        figures: dict[str, Any] = {"requests": window.requests, "failed": window.failed}
    else:
        value, threshold, samples = window.p95_s, spec.read_budget_s, len(window.answered)
        figures = {"answered": samples, "budget_source": spec.read_budget_source}
    if value is None:
        return Judgement(spec.item_id, interval.index, "no_data", reason="no request answered")
    figures["window_s"] = spec.window_s
    if samples < spec.min_samples:
        why = f"window holds {samples} samples, fewer than {spec.min_samples}"
        return Judgement(spec.item_id, interval.index, "warming", value, threshold, figures, why)
    if spec.measure == "error_rate":
        state = _above(value, spec)
    else:  # the runbook's "P95 < 1.5s": at the budget is already over it
        state = "breach" if threshold is not None and value >= threshold else "ok"
    return Judgement(spec.item_id, interval.index, state, value, threshold, figures)


def _regression(spec: WatchSpec, series: Series, baseline: Baseline | None) -> Judgement:
    index = series.intervals[-1].index
    if baseline is None:
        why = "no baseline: no allowed watch of this env and gate in reports/history/<env>.jsonl"
        return Judgement(spec.item_id, index, "no_data", reason=why)
    window = series.window(spec.window_s)
    if window.p95_s is None:
        return Judgement(spec.item_id, index, "no_data", reason="no request answered")
    limit = Margin(spec.margin_ratio, spec.margin_min_s).limit_s(baseline.p95_s)
    figures = {"baseline": baseline.describe(), "baseline_p95_s": baseline.p95_s, "limit_s": limit}
    if len(window.answered) < spec.min_samples:
        why = f"window holds {len(window.answered)} samples, fewer than {spec.min_samples}"
        return Judgement(spec.item_id, index, "warming", window.p95_s, limit, figures, why)
    state: State = "breach" if window.p95_s > limit else "ok"
    return Judgement(spec.item_id, index, state, window.p95_s, limit, figures)


def _real_error_rate(spec: WatchSpec, reading: Reading, window: Window, index: int) -> Judgement:
    """Real traffic's error ratio (Prometheus) judges the item; the probes' own failures, once
    their window holds its minimum, breach it too (they are requests that failed)."""
    if reading.value is None:
        return Judgement(spec.item_id, index, "no_data", reason=reading.missing)
    figures = {
        **reading.figures,
        "source": "prometheus",
        "requests": window.requests,
        "failed": window.failed,
        "probe_error_rate": window.error_rate,
    }
    state = _above(reading.value, spec)
    probes = window.error_rate
    if window.requests >= spec.min_samples and probes is not None:
        state = "breach" if _above(probes, spec) == "breach" else state
    return Judgement(spec.item_id, index, state, reading.value, spec.breach_above, figures)


@dataclass
class ItemState:
    """One item across the intervals: its judgements and the run of breaches."""

    spec: WatchSpec
    failure_limit: int = 1
    judgements: list[Judgement] = field(default_factory=list)
    consecutive_breaches: int = 0
    failed_at: int | None = None

    def add(self, judgement: Judgement) -> None:
        self.judgements.append(judgement)
        self.consecutive_breaches = (
            self.consecutive_breaches + 1 if judgement.state == "breach" else 0
        )
        if self.failed_at is None and self.consecutive_breaches >= self.failure_limit:
            self.failed_at = judgement.interval

    @property
    def last(self) -> Judgement | None:
        return self.judgements[-1] if self.judgements else None

    def outcome(self) -> tuple[str, str | None]:
        """(passed | failed | not_verified, reason)."""
        counts = {s: sum(j.state == s for j in self.judgements) for s in ("breach", "no_data")}
        total = len(self.judgements)
        if self.failed_at is not None:
            last = next(j for j in self.judgements if j.interval == self.failed_at)
            return "failed", f"breached in interval {self.failed_at}: {describe(self.spec, last)}"
        if not total:
            return "not_verified", "no interval was measured"
        if counts["no_data"]:
            why = next(j.reason for j in self.judgements if j.state == "no_data")
            return "not_verified", f"{counts['no_data']} of {total} intervals without data: {why}"
        last = self.judgements[-1]
        if last.state == "breach":  # fewer in a row than the limit, but not over either
            return "failed", f"still breaching when the watch ended: {describe(self.spec, last)}"
        if last.state == "warming":
            return "not_verified", last.reason
        note = None
        if counts["breach"]:
            note = f"{counts['breach']} breaching intervals, never {self.failure_limit} in a row"
        elif any(j.state == "warn" for j in self.judgements):
            note = "warning: " + describe(self.spec, max(self.judgements, key=_value))
        return "passed", note


def _value(j: Judgement) -> float:
    return j.value if j.value is not None else -1.0


def describe(spec: WatchSpec, j: Judgement) -> str:
    """``error rate 12.5% > 2% (5 of 40 requests in 300 s)``-like text for one judgement."""
    if j.value is None:
        return j.reason or j.state
    figures = dict(j.figures)
    if spec.measure == "error_rate" and figures.get("source") == "prometheus":
        return (
            f"real traffic's error rate {j.value:.1%} (Prometheus: {figures.get('query')}),"
            f" probes {figures.get('failed')} failed of {figures.get('requests')};"
            f" breach above {spec.breach_above:.0%}"
        )
    if spec.measure == "error_rate":
        return (
            f"error rate {j.value:.1%} > {spec.breach_above:.0%} ({figures.get('failed')} of"
            f" {figures.get('requests')} requests in the last {spec.window_s:.0f} s)"
        )
    if spec.measure == "latency_p95":
        return f"P95 {j.value:.3f} s, budget {spec.read_budget_s} s ({spec.read_budget_source})"
    if spec.measure == "connections":
        scope = figures.get("scope", "cluster")
        used, limit = figures.get(f"{scope}_used"), figures.get(f"{scope}_limit")
        return f"connections {j.value:.0%} of the {scope}'s limit ({used} of {limit}) > 80%"
    if spec.measure == "no_regression":
        return (
            f"P95 {j.value:.3f} s > {j.threshold:.3f} s, the last allowed watch's"
            f" {figures.get('baseline_p95_s', 0):.3f} s worse by more than"
            f" {spec.margin_ratio:.0%} and {spec.margin_min_s * 1000:.0f} ms"
        )
    if spec.measure == "storage_quota":
        return (
            f"storage {j.value:.0%} of the quota ({figures.get('used_bytes')} of"
            f" {figures.get('quota_bytes')} bytes, {figures.get('objects')} objects)"
        )
    return f"{figures.get('failed')} failed webhook deliveries of {figures.get('deliveries')}"
