"""The latency histogram attached to the upload thresholds: a hand-written SVG (no plotting
library) with both axes, bins spread over the measured range and the budget drawn and named."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["latency_histogram_svg", "nice_ticks", "percentile"]

WIDTH, HEIGHT = 560, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 44, 52
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
#: The budget is drawn on the axis when it lies within this factor of the slowest sample; further
#: away it would squeeze every bar into a corner, so it is named at the edge instead.
BUDGET_REACH = 1.5
MIN_BINS, MAX_BINS = 5, 20


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (the one the thresholds are judged by); NaN without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (at least two)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    step = _nice_step(high - low, count)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _count_ticks(peak: int) -> list[float]:
    """Whole-number ticks (steps of 1, 2, 5, 10, 20, …) from 0 to at least ``peak``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if peak <= 5 * step:
                return [float(step * i) for i in range(max(1, math.ceil(peak / step)) + 1)]
        magnitude *= 10


def _label(seconds: float, in_ms: bool) -> str:
    return f"{seconds * 1000:.0f} ms" if in_ms else f"{seconds:.2f} s"


@dataclass(frozen=True)
class _Bins:
    low: float
    width: float
    counts: list[int]


def _bins(values: Sequence[float]) -> _Bins:
    """Square-root rule over the measured range: the bars describe the data, not the budget."""
    low, high = min(values), max(values)
    count = min(MAX_BINS, max(MIN_BINS, math.ceil(math.sqrt(len(values)))))
    width = (high - low) / count if high > low else max(high * 0.1, 1e-3)
    counts = [0] * count
    for value in values:
        counts[min(count - 1, int((value - low) / width))] += 1
    return _Bins(low, width, counts)


class _Plot:
    def __init__(self, x_low: float, x_high: float, y_high: int) -> None:
        self.x_low, self.x_high, self.y_high = x_low, x_high, max(y_high, 1)
        self.in_ms = x_high < 1  # one unit per axis

    def label(self, seconds: float) -> str:
        return _label(seconds, self.in_ms)

    def x(self, value: float) -> float:
        return LEFT + PLOT_W * (value - self.x_low) / (self.x_high - self.x_low)

    def y(self, count: float) -> float:
        return TOP + PLOT_H * (1 - count / self.y_high)


def _axes(plot: _Plot, x_ticks: list[float], y_ticks: list[float]) -> list[str]:
    base = TOP + PLOT_H
    parts = [
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + PLOT_W}" y2="{base}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#333"/>',
    ]
    for tick in x_ticks:
        x = plot.x(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#333"/>')
        label = plot.label(tick)
        parts.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{label}</text>')
    for tick in y_ticks:
        y = plot.y(tick)
        parts.append(
            f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{LEFT - 7}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    parts += [
        f'<text x="{LEFT + PLOT_W / 2}" y="{HEIGHT - 12}" text-anchor="middle">latency</text>',
        f'<text x="14" y="{TOP + PLOT_H / 2}" text-anchor="middle"'
        f' transform="rotate(-90 14 {TOP + PLOT_H / 2})">requests</text>',
    ]
    return parts


def _bars(plot: _Plot, bins: _Bins) -> list[str]:
    parts = []
    for index, count in enumerate(bins.counts):
        start = bins.low + index * bins.width
        x0, x1 = plot.x(start), plot.x(start + bins.width)
        y = plot.y(count)
        span = f"{plot.label(start)} to {plot.label(start + bins.width)}"
        parts.append(
            f'<rect class="bar" x="{x0 + 1:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 2, 1):.1f}"'
            f' height="{TOP + PLOT_H - y:.1f}" fill="#4a7fb5" data-count="{count}">'
            f"<title>{count} in {span}</title></rect>"
        )
    return parts


def _budget(plot: _Plot, budget_s: float, on_axis: bool) -> list[str]:
    name = f"budget {_label(budget_s, budget_s < 1)}"
    if not on_axis:
        return [
            f'<text class="budget" x="{LEFT + PLOT_W}" y="{TOP - 6}" text-anchor="end"'
            f' fill="#c0392b">{escape(name)} → (beyond the slowest request)</text>'
        ]
    x = plot.x(budget_s)
    anchor = "end" if x > LEFT + PLOT_W * 0.7 else "start"
    dx = -4 if anchor == "end" else 4
    return [
        f'<line class="budget" x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{TOP + PLOT_H}"'
        ' stroke="#c0392b" stroke-width="2" stroke-dasharray="5 3"/>',
        f'<text x="{x + dx:.1f}" y="{TOP + 10}" text-anchor="{anchor}" fill="#c0392b">'
        f"{escape(name)}</text>",
    ]


def latency_histogram_svg(latencies_s: Sequence[float], budget_s: float) -> str:
    """Histogram of ``latencies_s`` with a y-axis of counts and the p95 budget as a named line."""
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    if not latencies_s:
        plot = _Plot(0.0, budget_s * BUDGET_REACH or 1.0, 1)
        body = _axes(plot, nice_ticks(0.0, plot.x_high), [0.0, 1.0]) + _budget(plot, budget_s, True)
        caption = f"no requests measured  budget={budget_s:g}s"
        return "\n".join([*head, *body, _caption(caption), "</svg>"])
    bins = _bins(latencies_s)
    data_high = bins.low + bins.width * len(bins.counts)
    on_axis = budget_s <= max(latencies_s) * BUDGET_REACH
    x_ticks = nice_ticks(bins.low, max(data_high, budget_s) if on_axis else data_high)
    y_ticks = _count_ticks(max(bins.counts))
    plot = _Plot(x_ticks[0], x_ticks[-1], int(y_ticks[-1]))
    caption = (
        f"n={len(latencies_s)}  p50={percentile(latencies_s, 0.5):.3f}s"
        f"  p95={percentile(latencies_s, 0.95):.3f}s  max={max(latencies_s):.3f}s"
        f"  budget={budget_s:g}s"
    )
    body = _axes(plot, x_ticks, y_ticks) + _bars(plot, bins) + _budget(plot, budget_s, on_axis)
    return "\n".join([*head, *body, _caption(caption), "</svg>"])


def _caption(text: str) -> str:
    return f'<text x="{LEFT}" y="16" font-weight="bold">{escape(text)}</text>'
