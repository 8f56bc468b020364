"""What the watch leaves: ``reports/watch-<env>.json`` (atomic), Allure results (one per item,
with a chart of error rate and P95 over time), the step summary, and on a breach the rollback
commands of runbook section 5."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promorang_gate.files import write_atomic
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import Target
from promorang_gate.watch.items import ItemState
from promorang_gate.watch.windows import Series

__all__ = ["rollback_commands", "series_chart", "step_summary", "write_allure", "write_report"]

RUNBOOK = "Operations Runbook, section 5: Rollback Procedures"
_ICON = {"allow": "✅", "block": "⛔", "interrupted": "⏹"}
_ALLURE_STATUS = {"passed": "passed", "failed": "failed", "not_verified": "skipped"}


def rollback_commands(target: Target) -> list[str]:
    """Section 5, for this environment's deployments."""
    return [
        f"Backend ({target.api_url}): vercel rollback <previous deployment URL>"
        " (or redeploy the previous commit)",
        f"Supabase ({target.supabase_url}): return to a `supabase db remote commit` point;"
        " apply the `down` migration if safe",
        f"Frontend ({target.frontend_url}): vercel rollback"
        " (or redeploy the previous static build)",
    ]


def write_report(path: Path, data: Mapping[str, Any], redactor: Redactor) -> None:
    text = json.dumps(redactor.redact_json(dict(data)), indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, text)


def _points(series: Series, state: ItemState) -> list[tuple[float, float | None]]:
    ends = {i.index: i.ended_s for i in series.intervals}
    return [(ends.get(j.interval, 0.0), j.value) for j in state.judgements]


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def series_chart(
    series: Series, error: ItemState | None, p95: ItemState | None, width: int = 640
) -> str:
    """An SVG of error rate (left axis, %) and P95 (right axis, s) per interval."""
    height, pad = 240, 48
    end = max((i.ended_s for i in series.intervals), default=1.0) or 1.0
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{pad}" y="16">error rate (red, left axis) and P95 (blue, right axis);'
        " dashed: breach lines</text>",
    ]
    axes = ((error, "#c0392b", pad - 4, "end"), (p95, "#2471a3", width - pad + 4, "start"))
    for state, colour, label_x, anchor in axes:
        if state is None:
            continue
        points = [(t, v) for t, v in _points(series, state) if v is not None]
        threshold = state.spec.breach_above if error is state else state.spec.read_budget_s
        top = max([v for _, v in points] + [threshold or 0.0, 1e-9]) * 1.1
        shown = _percent if error is state else _seconds
        lines.append(
            f'<text x="{label_x}" y="{pad}" fill="{colour}" text-anchor="{anchor}">'
            f"{shown(top)}</text>"
        )
        xy = [
            (pad + (width - 2 * pad) * t / end, height - pad - (height - 2 * pad) * v / top)
            for t, v in points
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        if threshold is not None:
            y = height - pad - (height - 2 * pad) * threshold / top
            lines.append(
                f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}"'
                f' stroke="{colour}" stroke-dasharray="4 3"/>'
                f'<text x="{label_x}" y="{y + 4:.1f}" fill="{colour}" text-anchor="{anchor}">'
                f"{shown(threshold)}</text>"
            )
    lines.append(
        f'<text x="{pad}" y="{height - 10}">0 s</text>'
        f'<text x="{width - pad - 30}" y="{height - 10}">{end:.0f} s</text></svg>'
    )
    return "\n".join(lines)


def write_allure(
    directory: Path,
    env: str,
    states: Sequence[ItemState],
    series: Series,
    verdict: str,
    started_ms: int,
    stopped_ms: int,
    redactor: Redactor,
) -> list[Path]:
    """One result per item, each with the time series chart attached."""
    directory.mkdir(parents=True, exist_ok=True)
    by = {s.spec.measure: s for s in states}
    chart = series_chart(series, by.get("error_rate"), by.get("latency_p95"))
    source = f"{uuid.uuid4()}-attachment.svg"
    write_atomic(directory / source, chart)
    written = [directory / source]
    for state in states:
        status, reason = state.outcome()
        if verdict == "interrupted" and status == "passed":
            status, reason = "not_verified", "the watch was interrupted"
        result = {
            "uuid": str(uuid.uuid4()),
            "historyId": f"watch:{env}:{state.spec.item_id}",
            "name": f"{state.spec.item_id} [{env}] (watch)",
            "fullName": f"watch::{state.spec.item_id}[{env}]",
            "status": _ALLURE_STATUS[status],
            "statusDetails": {"message": redactor.redact(reason or "")},
            "description": state.spec.text,
            "start": started_ms,
            "stop": stopped_ms,
            "labels": [
                {"name": "parentSuite", "value": "watch"},
                {"name": "suite", "value": env},
                {"name": "tag", "value": f"env:{env}"},
            ],
            "attachments": [
                {"name": "error rate and P95 over time", "source": source, "type": "image/svg+xml"}
            ],
        }
        path = directory / f"{result['uuid']}-result.json"
        write_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def step_summary(env: str, verdict: str, rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        f"### {_ICON.get(verdict, '')} watch {env}: {verdict.upper()}",
        "",
        "| item | status | figures |",
        "|---|---|---|",
    ]
    for row in rows:
        reason = str(row.get("reason") or "").replace("|", "\\|")
        lines.append(f"| `{row['id']}` | {row['status'].replace('_', ' ')} | {reason} |")
    return "\n".join(lines) + "\n\n"
