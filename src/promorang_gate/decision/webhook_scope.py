"""Where the webhook checks belong: an env's gate requires them only when its profile says the
release serves the Stripe webhook (``webhooks = true``) and the gate may write there (every
webhook check is a POST). Elsewhere they are out of scope, and the gate file says why."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from promorang_gate.decision.checklists import Catalog
from promorang_gate.decision.gates import GateChoice

__all__ = ["CHECKLIST", "not_required", "profile_not_required", "scoped"]

#: The checklist of runbook section 7 (``checklists/webhooks.yaml``).
CHECKLIST = "webhooks"


def not_required(
    catalog: Catalog, env: str, values: Mapping[str, object], sources: Mapping[str, str]
) -> dict[str, str]:
    """The webhook items ``env`` does not require, each with the reason."""
    items = [i for i in catalog.items.values() if i.checklist_id == CHECKLIST]
    if not items:
        return {}
    variable = f"GATE_{env.upper().replace('-', '_')}_WEBHOOKS"
    if not values.get("writes_allowed"):
        reason = f"env '{env}' allows no writes: the webhook checks are POSTs and none is sent"
    elif not values.get("webhooks"):
        source = sources.get("webhooks", "default")
        reason = (
            f"the release on '{env}' is not declared to serve the Stripe webhook (webhooks is"
            f" false, {source}): set webhooks = true in its profile or {variable}=true"
        )
    else:
        return {}
    return {item.id: reason for item in items}


def scoped(choice: GateChoice, excused: Mapping[str, str]) -> GateChoice:
    """``choice`` without the items ``excused`` (recorded with their reasons)."""
    dropped = {i: why for i, why in excused.items() if i in choice.gate.requires}
    if not dropped:
        return choice
    requires = tuple(i for i in choice.gate.requires if i not in dropped)
    gate = dataclasses.replace(choice.gate, requires=requires)
    return dataclasses.replace(choice, gate=gate, not_required={**choice.not_required, **dropped})


def profile_not_required(
    catalog: Catalog, env: str, project_dir: Path | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """``not_required`` from the env's profiles and variables alone (for ``verdict``, which
    re-judges a gate file without a run's settings)."""
    from promorang_gate.target.environments import SETTINGS, load_profiles

    profile = load_profiles(project_dir).get(env)
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in ("writes_allowed", CHECKLIST):
        values[key] = SETTINGS[key][1] if profile is None else profile.values.get(key)
        values[key] = SETTINGS[key][1] if values[key] is None else values[key]
        sources[key] = "profile" if profile is not None and key in profile.values else "default"
        variable = f"GATE_{env.upper().replace('-', '_')}_{key.upper()}"
        raw = environ.get(variable, "").strip().lower()
        if raw:
            values[key], sources[key] = raw in ("1", "true", "yes", "on"), f"env:{variable}"
    return not_required(catalog, env, values, sources)
