"""The criteria in force for one environment's verdict, and what about them is not the default.

A verdict is only as strict as its criteria: budgets, thresholds, which items gate, which
checklist files. Each is recorded in the gate file with its source, and anything that differs
from what the shipped profile and the repository's checklists say is flagged, so a loosened
gate can never pass for the default one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promorang_gate.decision.checklists import Catalog, Checklist, SignOff
from promorang_gate.decision.criteria_digest import criteria_digests
from promorang_gate.decision.gates import GateChoice, checklists_digest
from promorang_gate.durations import format_duration
from promorang_gate.git import git_output
from promorang_gate.target.environments import SETTINGS, EnvSettings, load_profiles

__all__ = ["CRITERIA_KEYS", "DEFAULT_SIGNOFF_MAX_AGE", "Criteria", "criteria_in_force"]

#: Settings that change what a verdict demands (URLs and secrets say where, not how strictly).
CRITERIA_KEYS = (
    "latency_p95_budget_s",
    "failure_rate_budget",
    "fallback_rate_budget",
    "slo_uploads",
    "slo_concurrency",
    "contract_max_examples",
    "contract_deadline_s",
    "request_timeout_s",
    "readiness_budget_s",
    "bucket",
    "upload_prefix",
    "writes_allowed",
    "embedded",
    # The env's default gate: another one judging it (a variable, a project profile) is flagged.
    "gate",
)


#: How long a sign-off counts unless the ini key ``gate_signoff_max_age`` says otherwise.
DEFAULT_SIGNOFF_MAX_AGE = "7d"


@dataclass(frozen=True)
class Criteria:
    data: dict[str, Any]
    flags: tuple[str, ...]


def _baseline(env: str, key: str) -> object:
    """The value the shipped profile (else the built-in default) gives ``key``."""
    shipped = load_profiles(None).get(env)
    if shipped is not None and key in shipped.values:
        return shipped.values[key]
    return SETTINGS[key][1]


def _same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _locally_modified(directory: Path) -> bool:
    """True when git says the checklist or gate files differ from the suite's commit (sign-offs
    are not criteria: they are recorded for a release)."""
    changed = git_output(directory, "status", "--porcelain", "--", ".", ":(exclude)signoffs")
    return changed is not None


def _settings(env: EnvSettings, flags: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in CRITERIA_KEYS:
        value = env.values.get(key)
        baseline = _baseline(env.name, key)
        source = env.sources.get(key, "default")
        settings[key] = {"value": value, "source": source, "baseline": baseline}
        if not _same(value, baseline):
            settings[key]["flagged"] = True
            flags.append(f"{key} is {value!r} ({source}), not the shipped {baseline!r}")
    return settings


_EVERY = re.compile(r"\b(every|all)\s+(the\s+)?checklists?\b", re.IGNORECASE)


def _named(checklist: Checklist, description: str) -> bool:
    """Whether a gate's description names the checklist (by id, title, or "every checklist")."""
    if _EVERY.search(description):
        return True
    text = description.lower()
    spellings = {checklist.id, checklist.id.replace("_", " "), checklist.id.replace("_", "-")}
    if any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text) for s in spellings):
        return True
    return checklist.title.lower() in text


def narrowed(choice: GateChoice, catalog: Catalog) -> str | None:
    """``criteria_narrowed`` when the gate requires fewer items than the runbook checklists its
    description names: a gate cut down in a commit still says what it used to cover."""
    wanted = set(choice.gate.requires)
    runbook = [c for c in catalog.checklists if c.source.startswith("Operations Runbook")]
    named = [c for c in runbook if _named(c, choice.gate.description)]
    # Items another command judges (the watch's) and items the env's profile declares out of
    # scope, with the reason in the gate file (webhooks = false), are no narrowing.
    judged = [
        i
        for c in named
        for i in c.items
        if i.judged_by == choice.gate.judged_by and i.id not in choice.not_required
    ]
    missing = [i.id for i in judged if i.id not in wanted]
    if not missing:
        return None
    total = len(judged)
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        f"criteria_narrowed: gate '{choice.gate.name}' requires {total - len(missing)} of the"
        f" {total} items of the runbook checklists it names"
        f" ({', '.join(c.id for c in named)}); missing {shown}"
    )


def criteria_in_force(
    env: EnvSettings,
    choice: GateChoice,
    catalog: Catalog,
    *,
    repository_checklists: Path,
    signoff_max_age_s: float,
    signoff_max_age_source: str,
    signoffs: Sequence[SignOff] = (),
    environments_dir: Path | None = None,
) -> Criteria:
    """What ``env``'s verdict is judged by, with sources; ``flags`` lists every departure."""
    flags: list[str] = []
    digest = checklists_digest(catalog.directory)
    repo_digest = (
        checklists_digest(repository_checklists) if repository_checklists.is_dir() else None
    )
    if catalog.directory.resolve() != repository_checklists.resolve() or digest != repo_digest:
        flags.append(
            f"checklists come from {catalog.directory}, not the repository's"
            f" {repository_checklists} (digest {digest})"
        )
    elif _locally_modified(catalog.directory):
        flags.append(f"checklist files in {catalog.directory} differ from the suite's commit")
    # The committed checklists' own `gating: false` (a baseline item, not verifiable on a first
    # run) is the shipped criterion: listed in `not_gating`, flagged only on other checklists.
    as_shipped = not flags
    if (narrow := narrowed(choice, catalog)) is not None:
        flags.append(narrow)
    required = [catalog.items[i] for i in choice.gate.requires]
    not_gating = [i.id for i in required if not i.gating]
    undeclared = [i.id for i in required if not i.manual and not i.checks]
    flags += [f"{i} does not gate (gating: false)" for i in not_gating if not as_shipped]
    flags += [f"{i} declares no checks: its verdict follows the selection" for i in undeclared]
    if signoff_max_age_source != "default":
        age = format_duration(signoff_max_age_s)
        default = DEFAULT_SIGNOFF_MAX_AGE
        flags.append(f"sign-offs count for {age} ({signoff_max_age_source}), not {default}")
    # A sign-off given with --signoff is in no committed file: evidence of this run only.
    cli_signoffs = [s for s in signoffs if s.command_line]
    flags += [
        f"{s.item} signed on the command line by {s.by}: {s.note}"
        f" (not in {catalog.directory.name}/signoffs/{env.name}.yaml)"
        for s in cli_signoffs
    ]
    data: dict[str, Any] = {
        "settings": _settings(env, flags),
        "checklists": {
            "directory": str(catalog.directory),
            "digest": digest,
            "repository_digest": repo_digest,
        },
        # What ``verdict --criteria-from REF`` compares with the protected branch.
        "digests": criteria_digests(catalog.directory, environments_dir),
        "signoff_max_age": {
            "value": format_duration(signoff_max_age_s),
            "seconds": signoff_max_age_s,
            "source": signoff_max_age_source,
        },
        "cli_signoffs": [{"item": s.item, "by": s.by, "note": s.note} for s in cli_signoffs],
        "not_gating": not_gating,
        "undeclared_checks": undeclared,
    }
    return Criteria(data, tuple(flags))
