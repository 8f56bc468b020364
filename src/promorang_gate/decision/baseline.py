"""The baseline (Kayenta's and Keptn's idea): every allowed run of an env appends its figures to
``reports/history/<env>.jsonl``; the next run of the same env, gate and kind (``watch`` or
``gate``) compares its latency P95 with the last allowed one's, never green without one.

A watch record (``kind`` absent in records written before the gate kept history) holds
``probes``; a gate record holds the ``items`` that passed with the figures their checks
recorded, and ``failed`` (a failed regression item's run is no baseline: a slow creep would
otherwise become the norm).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promorang_gate.decision.checklists import ChecklistItem
from promorang_gate.decision.verdict import EnvVerdict
from promorang_gate.errors import ConfigError

__all__ = [
    "GATE",
    "WATCH",
    "Baseline",
    "Comparison",
    "Declared",
    "Margin",
    "append_history",
    "compare_with_last",
    "declared",
    "gate_record",
    "history_path",
    "last_allowed",
]

#: The kinds of history record: each run compares only with its own kind.
WATCH, GATE = "watch", "gate"
#: Where a gate record's figure keeps its sample size (the suite's own word for it).
_SAMPLE_KEYS = ("samples", "uploads", "requests")


@dataclass(frozen=True)
class Baseline:
    p95_s: float
    samples: int
    finished_at: str
    kind: str = WATCH

    def describe(self) -> str:
        run = "watch" if self.kind == WATCH else "gate run"
        at = self.finished_at
        return f"P95 {self.p95_s:.3f} s of {self.samples} samples (allowed {run} {at})"


@dataclass(frozen=True)
class Margin:
    """How much worse counts as a regression: both more than ``ratio`` and more than ``min_s``."""

    ratio: float
    min_s: float

    def limit_s(self, baseline_p95_s: float) -> float:
        return max(baseline_p95_s * (1 + self.ratio), baseline_p95_s + self.min_s)


@dataclass(frozen=True)
class Declared:
    """A gate item's ``baseline:`` mapping: which item's figure it compares, with what margin."""

    item: str
    metric: str
    margin: Margin


def declared(item: ChecklistItem) -> Declared:
    """The baseline an item declares (``baseline: {item, metric, margin_ratio, margin_min_s}``)."""
    raw = dict(item.baseline)
    if not raw:
        raise ConfigError(f"checklist item {item.id} declares no 'baseline' to compare with")
    margin = Margin(float(str(raw["margin_ratio"])), float(str(raw["margin_min_s"])))
    return Declared(str(raw["item"]), str(raw["metric"]), margin)


def history_path(reports: Path, env: str) -> Path:
    return reports / "history" / f"{env}.jsonl"


def _figure(record: Mapping[str, Any], kind: str, item: str, metric: str) -> Baseline:
    if kind == WATCH:
        probes = record["probes"][metric]
        return Baseline(float(probes["p95_s"]), int(probes["samples"]), record["at"], WATCH)
    value = record["items"][item][metric]
    samples = next((value[k] for k in _SAMPLE_KEYS if k in value), 0)
    return Baseline(float(value["p95_s"]), int(samples), record["at"], GATE)


def last_allowed(
    path: Path,
    env: str,
    gate: str,
    *,
    kind: str = WATCH,
    item: str = "",
    metric: str = "all",
    regression_item: str = "",
) -> Baseline | None:
    """The figure of the last allowed run of ``env`` by ``gate`` of ``kind`` that holds it (a
    watch's probe ``metric``; a gate run's ``metric`` recorded under ``item``); a line that is
    no such record is skipped (the file is the organisation's, kept across runs by CI)."""
    if not path.is_file():
        return None
    found: Baseline | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            if (
                record.get("kind", WATCH) != kind
                or record.get("env") != env
                or record.get("gate") != gate
                or record["verdict"] != "allow"
                or (regression_item and regression_item in record.get("failed", ()))
            ):
                continue
            found = _figure(record, kind, item, metric)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def gate_record(verdict: EnvVerdict, run_id: str, at: str) -> dict[str, Any] | None:
    """The history record of an allowed gate run: the figures of its passed items; None for a
    blocked run or one that measured nothing."""
    if verdict.verdict != "allow":
        return None
    items = {i.id: dict(i.metrics) for i in verdict.items if i.status == "passed" and i.metrics}
    if not items:
        return None
    return {
        "kind": GATE,
        "at": at,
        "env": verdict.environment,
        "gate": verdict.gate,
        "verdict": verdict.verdict,
        "run_id": run_id,
        "items": items,
        "failed": sorted(i.id for i in verdict.items if i.status == "failed"),
    }


def append_history(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as history:
        history.write(json.dumps(dict(record), sort_keys=True) + "\n")


@dataclass(frozen=True)
class Comparison:
    """A regression item's comparison: the last allowed run's figure and the limit it allows."""

    item: str
    declared: Declared
    baseline: Baseline

    @property
    def limit_s(self) -> float:
        return self.declared.margin.limit_s(self.baseline.p95_s)

    def regressed(self, p95_s: float) -> bool:
        return p95_s > self.limit_s

    def figures(self, p95_s: float) -> dict[str, Any]:
        return {
            "p95_s": p95_s,
            "baseline_p95_s": self.baseline.p95_s,
            "baseline_samples": self.baseline.samples,
            "baseline_at": self.baseline.finished_at,
            "limit_s": round(self.limit_s, 4),
        }


def compare_with_last(reports: Path, env: str, gate: str, item: ChecklistItem) -> Comparison | None:
    """``item``'s comparison with the last allowed gate run of ``env`` by ``gate``; None when no
    such run recorded the figure it declares."""
    wanted = declared(item)
    found = last_allowed(
        history_path(reports, env),
        env,
        gate,
        kind=GATE,
        item=wanted.item,
        metric=wanted.metric,
        regression_item=item.id,
    )
    return None if found is None else Comparison(item.id, wanted, found)
