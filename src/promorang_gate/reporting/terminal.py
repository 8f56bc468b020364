"""What the terminal shows at the end of a run: the table of items and one line per verdict."""

from __future__ import annotations

from collections.abc import Sequence

from promorang_gate.decision.verdict import EnvVerdict, one_line
from promorang_gate.secrets.redaction import Redactor

__all__ = ["status_label", "summary_line", "table_lines"]


_LABELS = {
    "passed": "passed",
    "failed": "failed",
    "not_verified": "not verified",
    "manual_signed": "manual signed",
    "manual_missing": "manual missing",
}


def status_label(status: str) -> str:
    return _LABELS.get(status, status)


def summary_line(verdict: EnvVerdict) -> str:
    counts = verdict.counts
    parts = ", ".join(f"{counts[s]} {status_label(s)}" for s in counts)
    return f"GATE {verdict.environment}: {verdict.verdict.upper()} (gate {verdict.gate}: {parts})"


def table_lines(verdicts: Sequence[EnvVerdict], redactor: Redactor) -> list[str]:
    rows = [("env", "checklist", "item", "status")]
    for verdict in verdicts:
        for checklist in verdict.checklists:
            for item in checklist.items:
                status = status_label(item.status)
                if item.status not in ("passed", "manual_signed") and item.reason:
                    status += f": {one_line(item.reason, 100)}"
                rows.append((verdict.environment, checklist.id, item.id, status))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    return [redactor.redact(line) for line in lines]
