"""The watch's baseline figures: every allowed watch of an env appends them to
``reports/history/<env>.jsonl`` (kind ``watch``); the next watch of the same env and gate
compares its probe latency with the last allowed one (item ``slo.no_regression``), never green
without one. Reading and writing the history is the decision floor's (``decision.baseline``),
shared with the gate run."""

from __future__ import annotations

from typing import Any

from promorang_gate.decision.baseline import (
    WATCH,
    Baseline,
    Margin,
    append_history,
    history_path,
    last_allowed,
)
from promorang_gate.reporting.latency_chart import percentile
from promorang_gate.watch.windows import Series

__all__ = [
    "WATCH",
    "Baseline",
    "Margin",
    "append_history",
    "figures",
    "history_path",
    "last_allowed",
]


def figures(series: Series) -> dict[str, Any]:
    """Per probe and overall: latency P50/P95 of answered requests, sample size, errors."""
    every = [p for i in series.intervals for p in i.probes]
    out: dict[str, Any] = {}
    for name in [*sorted({p.probe for p in every}), "all"]:
        mine = [p for p in every if name in ("all", p.probe)]
        answered = [p.latency_s for p in mine if p.status is not None]
        out[name] = {
            "p50_s": percentile(answered, 0.5) if answered else None,
            "p95_s": percentile(answered, 0.95) if answered else None,
            "samples": len(mine),
            "failed": sum(p.failed for p in mine),
        }
    return out
