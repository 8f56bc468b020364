"""The gate file, ``reports/gate-<env>.json``: one environment's verdict with everything it was
decided on (architecture.md §4), read back by ``promorang-gate verdict``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promorang_gate.decision.criteria import Criteria
from promorang_gate.decision.gates import GateChoice
from promorang_gate.decision.verdict import EnvVerdict, ItemResult
from promorang_gate.decision.verdict_file import FORMAT
from promorang_gate.git import git_output
from promorang_gate.target.environments import URL_KEYS, Target

__all__ = ["RunMeta", "render_json", "suite_sha", "utc_now"]


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def suite_sha(rootdir: Path) -> str | None:
    return git_output(rootdir, "rev-parse", "HEAD")


@dataclass(frozen=True)
class RunMeta:
    run_id: str
    started_at: str
    finished_at: str
    suite_sha: str | None
    pytest_args: Sequence[str]


def _item_json(item: ItemResult, in_scope: bool = True) -> dict[str, Any]:
    data = item.to_json()
    data["in_scope"] = in_scope
    return data


def render_json(
    verdict: EnvVerdict,
    meta: RunMeta,
    target: Target | None,
    choice: GateChoice,
    criteria: Criteria,
    extra: Mapping[str, Any] | None = None,
) -> str:
    data: dict[str, Any] = {
        "format": FORMAT,
        "environment": verdict.environment,
        "verdict": verdict.verdict,
        "gate": {
            "name": choice.gate.name,
            "picked_by": choice.picked_by,
            "description": choice.gate.description,
            "required": list(choice.gate.requires),
            **({"not_required": dict(choice.not_required)} if choice.not_required else {}),
        },
        "run_id": meta.run_id,
        "started_at": meta.started_at,
        "finished_at": meta.finished_at,
        "suite_sha": meta.suite_sha,
        "pytest_args": list(meta.pytest_args),
        "targets": {key: getattr(target, key) if target else None for key in URL_KEYS},
        "counts": verdict.counts,
        "blockers": [
            {"id": i.id, "status": i.status, "reason": i.reason} for i in verdict.blockers
        ],
        "criteria": criteria.data,
        "flags": list(criteria.flags),
        "checklists": [c.to_json() for c in verdict.checklists],
        "out_of_scope": [_item_json(i, in_scope=False) for i in verdict.out_of_scope],
        **(extra or {}),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
