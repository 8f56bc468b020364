"""The samples of a watch, interval by interval, and the sliding windows read from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promorang_gate.reporting.latency_chart import percentile
from promorang_gate.watch.measures import Reading
from promorang_gate.watch.probes import ProbeResult

__all__ = ["Interval", "Series", "Window"]


@dataclass
class Interval:
    """What one interval measured: its probe requests and the other readings."""

    index: int
    started_s: float
    ended_s: float
    probes: list[ProbeResult]
    readings: dict[str, Reading] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "started_s": round(self.started_s, 3),
            "ended_s": round(self.ended_s, 3),
            "probes": [p.to_json() for p in self.probes],
            "readings": {k: r.to_json() for k, r in self.readings.items()},
        }


@dataclass(frozen=True)
class Window:
    """The probe requests of the last ``length_s`` seconds, as of ``until_s``."""

    length_s: float
    until_s: float
    probes: tuple[ProbeResult, ...]

    @property
    def requests(self) -> int:
        return len(self.probes)

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.probes)

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.requests if self.probes else None

    @property
    def answered(self) -> list[float]:
        """Latencies of the requests that got a response (a refused connection has none)."""
        return [p.latency_s for p in self.probes if p.status is not None]

    @property
    def p95_s(self) -> float | None:
        latencies = self.answered
        return percentile(latencies, 0.95) if latencies else None

    def to_json(self) -> dict[str, Any]:
        return {
            "length_s": self.length_s,
            "until_s": round(self.until_s, 3),
            "requests": self.requests,
            "failed": self.failed,
            "error_rate": self.error_rate,
            "p95_s": self.p95_s,
        }


class Series:
    """Every interval so far (a 30-minute watch holds a few thousand requests at most)."""

    def __init__(self) -> None:
        self.intervals: list[Interval] = []

    def add(self, interval: Interval) -> None:
        self.intervals.append(interval)

    @property
    def requests(self) -> int:
        return sum(len(i.probes) for i in self.intervals)

    def window(self, length_s: float) -> Window:
        until = self.intervals[-1].ended_s if self.intervals else 0.0
        start = until - length_s
        probes = tuple(p for i in self.intervals for p in i.probes if p.at_s >= start)
        return Window(length_s, until, probes)
