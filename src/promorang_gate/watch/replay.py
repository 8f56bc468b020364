"""``promorang-gate verdict DIR --env E --gate watch``: the watch file counts for a later step
only as shipped (this repository's watch items and checklists digest), whole and consistent
(an ``allow`` with every gating item passed and none failed), and fresh; else ``Refused``
with the exit codes of the gate files (``verdict_file.Exit``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import checklists_digest, load_gates
from promorang_gate.decision.verdict_file import Exit, Refused
from promorang_gate.durations import format_duration

__all__ = ["check_watch_file"]

_VERDICTS = ("allow", "block", "interrupted")
_STATUSES = ("passed", "failed", "not_verified")


def _malformed(path: Path, why: str) -> Refused:
    return Refused(Exit.MALFORMED, f"{path}: malformed watch file: {why}")


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise Refused(Exit.MISSING, f"{path}: no watch file (run promorang-gate watch first)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _malformed(path, f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("kind") != "watch":
        raise _malformed(path, "not a watch file (kind 'watch')")
    items = data.get("items")
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), str) and i.get("status") in _STATUSES
        for i in items
    ):
        raise _malformed(path, "'items' must list {id, status, gating}")
    if data.get("verdict") not in _VERDICTS:
        raise _malformed(path, f"verdict must be one of {', '.join(_VERDICTS)}")
    return data


def _consistent(path: Path, data: dict[str, Any]) -> None:
    items = data["items"]
    failed = [i["id"] for i in items if i["status"] == "failed"]
    open_items = [i["id"] for i in items if i.get("gating", True) and i["status"] != "passed"]
    if data["verdict"] == "allow" and (failed or open_items):
        raise _malformed(path, f"verdict allow with {', '.join(failed or open_items)} not passed")


def _as_shipped(path: Path, data: dict[str, Any], env: str, gate: str, checklists: Path) -> None:
    if data.get("env") != env or data.get("gate") != gate:
        raise Refused(
            Exit.OTHER_GATE_OR_CRITERIA,
            f"{path}: a watch of env {data.get('env')!r} by gate {data.get('gate')!r},"
            f" not of {env!r} by {gate!r}",
        )
    required = load_gates(load_catalog(checklists))[gate].requires
    if sorted(i["id"] for i in data["items"]) != sorted(required):
        raise Refused(Exit.OTHER_GATE_OR_CRITERIA, f"{path}: not the items gate {gate} requires")
    if data.get("checklists_digest") != checklists_digest(checklists):
        raise Refused(
            Exit.OTHER_GATE_OR_CRITERIA,
            f"{path}: judged with other checklists than {checklists} (thresholds not as shipped)",
        )


def _fresh(path: Path, data: dict[str, Any], max_age_s: float, now: dt.datetime) -> None:
    try:
        finished = dt.datetime.fromisoformat(str(data.get("finished_at")).replace("Z", "+00:00"))
    except ValueError:
        raise _malformed(path, "finished_at is no ISO time") from None
    age = (now - finished).total_seconds()
    if age > max_age_s:
        raise Refused(
            Exit.STALE,
            f"{path}: stale: finished {format_duration(round(age))} ago,"
            f" older than --max-age {format_duration(max_age_s)}",
        )


def check_watch_file(
    directory: Path,
    env: str,
    gate: str,
    *,
    checklists: Path,
    max_age_s: float,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    path = directory / f"watch-{env}.json"
    data = _load(path)
    _consistent(path, data)
    _as_shipped(path, data, env, gate, checklists)
    _fresh(path, data, max_age_s, now or dt.datetime.now(dt.UTC))
    return data
