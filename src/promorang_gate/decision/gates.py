"""Gates as data: named sets of required checklist items (``checklists/gates.yaml``).

The verdict of an environment is decided by one gate: its required items, never by what the
run happened to select. A gate is picked by ``--gate NAME``, else by a ``-m`` expression that is
exactly a gate's name, else by the environment profile's ``gate`` key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promorang_gate.decision.checklists import (
    GATES_FILE,
    PYTEST,
    Catalog,
    load_yaml_file,
    mapping_with,
)
from promorang_gate.errors import ConfigError

__all__ = [
    "ALL",
    "Gate",
    "GateChoice",
    "checklists_digest",
    "choose_gate",
    "load_gates",
    "refuse_writes_on_read_only",
]

#: ``requires: all`` — every item of every checklist that the gate's judge judges.
ALL = "all"
_GATE_KEYS = {"description", "requires", "judged_by"}
_JUDGES = ("pytest", "watch")


@dataclass(frozen=True)
class Gate:
    name: str
    description: str
    requires: tuple[str, ...]  # item ids, in catalog order
    #: ``pytest`` (the gate run) or ``watch`` (``promorang-gate watch``, after promotion).
    judged_by: str = PYTEST


@dataclass(frozen=True)
class GateChoice:
    """The gate judging one environment and what picked it (for the report)."""

    gate: Gate
    picked_by: str
    #: Items of the gate's file this env does not require, each with the reason (webhooks/).
    not_required: Mapping[str, str] = field(default_factory=dict)


def _expand(entries: object, catalog: Catalog, at: str, judge: str = PYTEST) -> tuple[str, ...]:
    """Item ids of ``entries``; ``all`` and a checklist id take only the items ``judge`` judges
    (a checklist may hold both kinds), a named item of another judge is an error."""
    mine = [i.id for i in catalog.items.values() if i.judged_by == judge]
    if entries == ALL:
        return tuple(mine)
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        raise ConfigError(f"{at}: 'requires' must be '{ALL}' or a list of checklist or item ids")
    wanted: set[str] = set()
    for entry in entries:
        if any(c.id == entry for c in catalog.checklists):
            wanted.update(i.id for i in catalog.checklist(entry).items if i.judged_by == judge)
        elif entry in catalog.items:
            other = catalog.items[entry].judged_by
            if other != judge:
                raise ConfigError(
                    f"{at}: {entry!r} is judged by {other}, not by {judge}:"
                    f" list it in a gate with 'judged_by: {other}'"
                )
            wanted.add(entry)
        else:
            raise ConfigError(
                f"{at}: {entry!r} is neither a checklist nor an item"
                f" (they are defined in {catalog.directory})"
            )
    return tuple(i for i in mine if i in wanted)


def load_gates(catalog: Catalog) -> dict[str, Gate]:
    """The gates of ``<checklists>/gates.yaml``; without the file, only ``full`` (every item)."""
    path = catalog.directory / GATES_FILE
    if not path.is_file():
        return {"full": Gate("full", "every checklist item", _expand(ALL, catalog, "full"))}
    where = f"gates file {path}"
    data = mapping_with(load_yaml_file(path, "gates file"), {"gates"}, where, "a 'gates' mapping")
    raw_gates = data.get("gates")
    if not isinstance(raw_gates, dict) or not raw_gates:
        raise ConfigError(f"{where}: 'gates' must map gate names to {{description, requires}}")
    gates: dict[str, Gate] = {}
    for name, raw in raw_gates.items():
        at = f"{where}, gate {name!r}"
        body: dict[str, Any] = mapping_with(raw, _GATE_KEYS, at, "description and requires")
        description = body.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{at}: 'description' must be a string")
        judge = body.get("judged_by", PYTEST)
        if judge not in _JUDGES:
            raise ConfigError(f"{at}: 'judged_by' must be one of {', '.join(_JUDGES)}")
        requires = _expand(body.get("requires"), catalog, at, judge)
        gates[str(name)] = Gate(str(name), description.strip(), requires, judge)
    return gates


def choose_gate(
    gates: Mapping[str, Gate],
    *,
    option: str | None,
    markexpr: str,
    profile_gate: str,
    env: str,
    profile_source: str = "profile",
    judge: str = PYTEST,
) -> GateChoice:
    """``--gate`` > a ``-m`` that names a gate > the profile's gate; unknown names are errors,
    and so is a gate another command judges (``judged_by``)."""
    choice = _choose(gates, option, markexpr, profile_gate, env, profile_source)
    if choice.gate.judged_by != judge:
        command = "promorang-gate watch" if choice.gate.judged_by == "watch" else "pytest"
        raise ConfigError(
            f"gate '{choice.gate.name}' ({choice.picked_by}) is judged by {command}, not by"
            f" {'pytest' if judge == PYTEST else 'promorang-gate watch'}: run `{command}` for it"
        )
    return choice


def _choose(
    gates: Mapping[str, Gate],
    option: str | None,
    markexpr: str,
    profile_gate: str,
    env: str,
    profile_source: str,
) -> GateChoice:
    known = ", ".join(sorted(gates))
    marker_gate = markexpr.strip() if markexpr.strip() in gates else None
    if option is not None:
        if option not in gates:
            raise ConfigError(f"--gate {option!r}: unknown gate; known gates are {known}")
        if marker_gate is not None and marker_gate != option:
            raise ConfigError(
                f"--gate {option} and -m {marker_gate} name two gates: give only one of them"
            )
        return GateChoice(gates[option], "--gate")
    if marker_gate is not None:
        return GateChoice(gates[marker_gate], f"-m {marker_gate}")
    if profile_gate not in gates:
        raise ConfigError(
            f"env '{env}': its profile's gate {profile_gate!r} is not defined; known gates are"
            f" {known} (set GATE_{env.upper()}_GATE or --gate)"
        )
    # A variable or project file choosing the env's gate says so (it is also a flagged criterion).
    shipped = profile_source in ("profile", "default")
    return GateChoice(gates[profile_gate], f"profile of {env}" if shipped else profile_source)


def refuse_writes_on_read_only(
    choice: GateChoice, catalog: Catalog, env: str, writes_allowed: bool, gates: Iterable[Gate]
) -> None:
    """A gate judging an env without writes may require no item whose checks write."""
    if writes_allowed:
        return
    writing = [i for i in choice.gate.requires if catalog.items[i].writes]
    if not writing:
        return
    read_only = sorted(
        g.name
        for g in gates
        if g.judged_by == choice.gate.judged_by
        and not any(catalog.items[i].writes for i in g.requires)
    )
    hint = f"; gates that need no write: {', '.join(read_only)}" if read_only else ""
    raise ConfigError(
        f"gate '{choice.gate.name}' ({choice.picked_by}) requires items that can only be verified"
        f" by writing, but env '{env}' does not allow writes: {', '.join(writing)}{hint}"
    )


def checklists_digest(directory: Path) -> str:
    """sha256 over the checklist and gate files (not the sign-offs): the criteria's identity."""
    digest = hashlib.sha256()
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()
