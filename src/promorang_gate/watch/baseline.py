"""Baseline (Kayenta's and Keptn's idea): every allowed watch of an env appends its figures to
``reports/history/<env>.jsonl``; the next watch of the same env and gate compares its probe
latency with the last allowed one (item ``slo.no_regression``), never green without one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promorang_gate.reporting.latency_chart import percentile
from promorang_gate.watch.windows import Series

__all__ = ["Baseline", "append_history", "figures", "history_path", "last_allowed"]


@dataclass(frozen=True)
class Baseline:
    p95_s: float
    samples: int
    finished_at: str

    def describe(self) -> str:
        return (
            f"P95 {self.p95_s:.3f} s of {self.samples} requests (allowed watch {self.finished_at})"
        )


def history_path(reports: Path, env: str) -> Path:
    return reports / "history" / f"{env}.jsonl"


def last_allowed(path: Path, env: str, gate: str) -> Baseline | None:
    """The probe figures of the last allowed watch of ``env`` by ``gate``; a line that is not
    such a record is skipped (the file is the organisation's, kept across runs by CI)."""
    if not path.is_file():
        return None
    found: Baseline | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            probes = record["probes"]["all"]
            if (
                record.get("env") == env
                and record.get("gate") == gate
                and record["verdict"] == ("allow")
            ):
                found = Baseline(float(probes["p95_s"]), int(probes["samples"]), record["at"])
        except (ValueError, KeyError, TypeError):
            continue
    return found


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


def append_history(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as history:
        history.write(json.dumps(dict(record), sort_keys=True) + "\n")
