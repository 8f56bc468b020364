"""Allure integration: runbook labels on items, environment/categories files, small SVG charts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from promorang_gate.redaction import Redactor

if TYPE_CHECKING:
    from promorang_gate.environments import Target

__all__ = [
    "CATEGORIES",
    "EPIC",
    "add_labels",
    "attach_svg",
    "latency_histogram_svg",
    "write_categories",
    "write_environment_properties",
]

EPIC = "Operations Runbook"
ALL_ENVS = "all environments"


class _Item(Protocol):
    id: str
    text: str
    gating: bool


class _Checklist(Protocol):
    title: str
    link: str


def _label(value: str, label_type: str) -> pytest.MarkDecorator:
    return pytest.mark.allure_label(value, label_type=label_type)


def add_labels(
    item: pytest.Item, checklist: _Checklist, items: Iterable[_Item], env_name: str | None
) -> None:
    """Mark ``item`` with the labels allure-pytest reads (``allure_label``/``allure_link``)."""
    items = list(items)
    item.add_marker(_label(EPIC, "epic"))
    item.add_marker(_label(checklist.title, "feature"))
    for entry in items:
        item.add_marker(_label(entry.text, "story"))
        item.add_marker(_label(entry.id, "tag"))
    severity = "blocker" if any(entry.gating for entry in items) else "normal"
    item.add_marker(_label(severity, "severity"))
    item.add_marker(_label(env_name or ALL_ENVS, "parentSuite"))
    if checklist.link:
        item.add_marker(
            pytest.mark.allure_link(checklist.link, link_type="link", name=checklist.title)
        )


def _prop(value: object) -> str:
    # java.util.Properties: backslash escapes, no raw newlines.
    text = str(value).replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    return text


def write_environment_properties(
    directory: str | Path,
    targets: Mapping[str, Target],
    redactor: Redactor,
    run_id: str | None = None,
) -> Path:
    """``environment.properties``: env names, URLs, writes_allowed, run id; never a secret."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"environments={_prop(', '.join(targets))}"]
    if run_id:
        lines.append(f"run_id={_prop(run_id)}")
    for name, target in targets.items():
        for key in ("api_url", "frontend_url", "supabase_url", "bucket", "writes_allowed"):
            value = redactor.redact(str(getattr(target, key)))
            lines.append(f"{name}.{key}={_prop(value)}")
    path = out / "environment.properties"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Allure puts a result in the first category that matches: unreachable before product defect.
CATEGORIES: list[dict[str, object]] = [
    {
        "name": "Infrastructure / unreachable",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": r"(?s).*(ConnectError|ConnectTimeout|ReadTimeout|NotReady|refused).*",
    },
    {"name": "Product defect", "matchedStatuses": ["failed"]},
    {"name": "Not verified", "matchedStatuses": ["skipped"]},
]


def write_categories(directory: str | Path) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "categories.json"
    path.write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    return path


def attach_svg(name: str, svg_text: str) -> None:
    import allure

    allure.attach(svg_text, name=name, attachment_type=allure.attachment_type.SVG)


def latency_histogram_svg(latencies_s: list[float], budget_s: float, bins: int = 12) -> str:
    """A hand-written SVG bar chart of latencies with the p95 budget as a red line."""
    width, height, pad = 480, 220, 36
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    top = max([*latencies_s, budget_s, 1e-3]) * 1.05
    counts = [0] * bins
    for value in latencies_s:
        counts[min(bins - 1, int(value / top * bins))] += 1
    peak = max(counts) or 1
    bar_w = plot_w / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{pad}" y1="{pad + plot_h}" x2="{pad + plot_w}" y2="{pad + plot_h}" '
        'stroke="black"/>',
    ]
    for i, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x, y = pad + i * bar_w, pad + plot_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" '
            f'fill="#4a7fb5"><title>{count}</title></rect>'
        )
    budget_x = pad + plot_w * budget_s / top
    parts.append(
        f'<line x1="{budget_x:.1f}" y1="{pad - 6}" x2="{budget_x:.1f}" y2="{pad + plot_h}" '
        'stroke="#c0392b" stroke-dasharray="4 3"/>'
    )
    p95 = _p95(latencies_s)
    caption = f"n={len(latencies_s)}  p95={p95:.3f}s  budget={budget_s:g}s"
    parts += [
        f'<text x="{pad}" y="{pad - 12}">{escape(caption)}</text>',
        f'<text x="{pad}" y="{height - 10}">0 s</text>',
        f'<text x="{pad + plot_w}" y="{height - 10}" text-anchor="end">{top:.2f} s</text>',
        "</svg>",
    ]
    return "\n".join(parts)


def _p95(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
