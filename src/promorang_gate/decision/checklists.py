"""Checklists as data (architecture.md §3): the catalog and the sign-offs of manual items."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promorang_gate.errors import ConfigError
from promorang_gate.files import write_atomic
from promorang_gate.safe_yaml import load_yaml_file

__all__ = [
    "PYTEST",
    "WATCH",
    "Catalog",
    "Checklist",
    "ChecklistItem",
    "SignOff",
    "check_signable",
    "load_catalog",
    "load_signoffs",
    "load_yaml_file",
    "mapping_with",
    "parse_signoff_options",
    "read_signoff_file",
    "record_signoff",
    "signoff_path",
]

#: The gates file lives beside the checklists but is not one (see gates.py).
GATES_FILE = "gates.yaml"
_ITEM_ID = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$")
_CHECKLIST_KEYS = {"id", "title", "source", "link", "items"}
_ITEM_KEYS = {
    *("id", "text", "gating", "manual", "checks", "writes", "signable", "watch", "baseline"),
}
_BASELINE_KEYS = {"item", "metric", "margin_ratio", "margin_min_s", "reason"}
#: Who judges an item: the pytest run (its checks, or a sign-off) or ``promorang-gate watch``.
PYTEST, WATCH = "pytest", "watch"
_SIGNOFF_KEYS = {"item", "by", "at", "env", "note", "deployment", "standing"}
# A declared check: ``path/to/test_file.py::test_name`` or ``…::test_name[param-id]`` (no env).
_CHECK_ID = re.compile(r"^[^\s:]+\.py::(?:[A-Za-z_]\w*::)?[A-Za-z_]\w*(?:\[[^\]]+\])?$")


@dataclass(frozen=True)
class ChecklistItem:
    """One runbook line. ``checks`` are the tests that must all run and pass for it (none for a
    manual item); ``writes`` says they cannot verify it without writing to the target;
    ``signable`` lets a sign-off stand in for an automated item its checks could not verify;
    ``watch`` holds the thresholds of an item judged by ``promorang-gate watch`` (no checks);
    ``baseline`` what a regression item compares with the last allowed run (baseline.py)."""

    id: str
    text: str
    checklist_id: str
    gating: bool = True
    manual: bool = False
    checks: tuple[str, ...] = ()
    writes: bool = False
    signable: bool = False
    watch: tuple[tuple[str, object], ...] = ()
    baseline: tuple[tuple[str, object], ...] = ()

    @property
    def judged_by(self) -> str:
        return WATCH if self.watch else PYTEST

    @property
    def takes_signoff(self) -> bool:
        return self.manual or self.signable


@dataclass(frozen=True)
class Checklist:
    id: str
    title: str
    source: str
    link: str
    items: tuple[ChecklistItem, ...]
    path: Path


@dataclass(frozen=True)
class SignOff:
    item: str
    by: str
    at: str
    env: str
    note: str = ""
    deployment: str = ""
    #: Holds by construction (the sandbox's own): never expires.
    standing: bool = False
    #: Given with ``--signoff`` for one run, not recorded in the env's sign-off file.
    command_line: bool = False

    def describe(self) -> str:
        text = f"signed by {self.by} at {self.at}"
        if self.deployment:
            text += f" for {self.deployment}"
        if self.standing:
            text += " (standing)"
        if self.command_line:
            text += " (on the command line)"
        return f"{text}: {self.note}" if self.note else text

    def signed_at(self) -> dt.datetime:
        stamp = dt.datetime.fromisoformat(self.at.replace("Z", "+00:00"))
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)

    def expired(self, now: dt.datetime, max_age_s: float) -> bool:
        return not self.standing and (now - self.signed_at()).total_seconds() > max_age_s

    def to_yaml(self) -> dict[str, object]:
        data: dict[str, object] = {"item": self.item, "by": self.by, "at": self.at, "env": self.env}
        for key in ("note", "deployment"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.standing:
            data["standing"] = True
        return data


@dataclass(frozen=True)
class Catalog:
    checklists: tuple[Checklist, ...]
    directory: Path

    @functools.cached_property
    def items(self) -> dict[str, ChecklistItem]:
        """Every item by id, in catalog order (built once: read per test and per item)."""
        return {item.id: item for c in self.checklists for item in c.items}

    def checklist(self, checklist_id: str) -> Checklist:
        return next(c for c in self.checklists if c.id == checklist_id)

    def item(self, item_id: str) -> ChecklistItem | None:
        return self.items.get(item_id)


def _shown(value: object) -> str:
    """A value for an error message: never cut (a cut secret would escape redaction), so long
    or nested values are described instead of shown."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else f"a string of {len(value)} characters"
    if isinstance(value, list | dict):
        return f"a {'list' if isinstance(value, list) else 'mapping'} of {len(value)} entries"
    return repr(value)


def _str(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{key}' must be a non-empty string, got {_shown(value)}")
    return value.strip()


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """A free-text value shown in reports and terminals: one printable line, bounded."""
    from promorang_gate.target.validation import TEXT_LIMITS, check_text

    return check_text(
        _str(data, key, where, required=required), f"{where}: {key}", TEXT_LIMITS[key]
    )


def _bool(data: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, got {_shown(value)}")
    return value


def mapping_with(raw: Any, allowed: set[str], at: str, shape: str) -> dict[str, Any]:
    """`raw` as a mapping with only `allowed` keys, else a ConfigError saying where."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: expected a mapping with {shape}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {', '.join(map(str, unknown))}")
    return raw


def _load_checklist(path: Path) -> Checklist:
    where = f"checklist file {path}"
    data = mapping_with(
        load_yaml_file(path, "checklist file"), _CHECKLIST_KEYS, where, "id, title, items"
    )
    checklist_id = _str(data, "id", where)
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ConfigError(f"{where}: 'items' must be a non-empty list")
    items: list[ChecklistItem] = []
    for index, raw in enumerate(raw_items, 1):
        at = f"{where}, item {index}"
        raw = mapping_with(raw, _ITEM_KEYS, at, "id and text")
        items.append(_load_item(raw, checklist_id, at, where))
    return Checklist(
        id=checklist_id,
        title=_str(data, "title", where),
        source=_str(data, "source", where, required=False),
        link=_str(data, "link", where, required=False),
        items=tuple(items),
        path=path,
    )


def _load_item(raw: dict[str, Any], checklist_id: str, at: str, where: str) -> ChecklistItem:
    item_id = _str(raw, "id", at)
    if not _ITEM_ID.match(item_id):
        raise ConfigError(f"{at}: item id {item_id!r} must look like '<checklist>.<slug>'")
    at = f"{where}, item {item_id!r}"
    manual = _bool(raw, "manual", False, at)
    checks = _checks(raw.get("checks"), at)
    if manual and checks:
        raise ConfigError(f"{at}: a manual item has no checks; drop 'checks' or 'manual'")
    signable = _bool(raw, "signable", False, at)
    if signable and manual:
        raise ConfigError(f"{at}: 'signable' is for automated items; a manual one is signed anyway")
    watch = _watch(raw.get("watch"), at)
    if watch and (manual or checks or signable or raw.get("writes")):
        raise ConfigError(
            f"{at}: a 'watch' item is judged by promorang-gate watch alone; drop 'checks',"
            " 'manual', 'signable' and 'writes'"
        )
    return ChecklistItem(
        id=item_id,
        text=_str(raw, "text", at),
        checklist_id=checklist_id,
        gating=_bool(raw, "gating", True, at),
        manual=manual,
        checks=checks,
        writes=_bool(raw, "writes", False, at),
        signable=signable,
        watch=watch,
        baseline=_baseline(raw.get("baseline"), at),
    )


def _baseline(raw: object, at: str) -> tuple[tuple[str, object], ...]:
    """A regression item's baseline: the item and metric it compares, and its margin."""
    if raw is None:
        return ()
    data = mapping_with(raw, _BASELINE_KEYS, f"{at}, 'baseline'", "item and metric")
    for key in ("item", "metric"):
        _str(data, key, f"{at}, 'baseline'")
    for key in ("margin_ratio", "margin_min_s"):
        value = data.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{at}: 'baseline.{key}' must be a number >= 0")
    return tuple((str(k), v) for k, v in data.items())


def _watch(raw: object, at: str) -> tuple[tuple[str, object], ...]:
    """The thresholds of a watch item as pairs (the watch checks their meaning)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not isinstance(raw.get("measure"), str):
        raise ConfigError(f"{at}: 'watch' must be a mapping with a 'measure' (see docs/watch.md)")
    return tuple((str(k), v) for k, v in raw.items())


def _checks(raw: object, at: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise ConfigError(f"{at}: 'checks' must be a list of test ids (path.py::test_name)")
    bad = [c for c in raw if not _CHECK_ID.match(c)]
    if bad:
        raise ConfigError(
            f"{at}: check {bad[0]!r} must look like 'path/test_file.py::test_name'"
            " or 'path/test_file.py::test_name[param]' (without the environment)"
        )
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{at}: a check is listed twice")
    return tuple(raw)


def load_catalog(directory: Path) -> Catalog:
    """Every ``*.yaml`` in ``directory`` (not its sub-directories); absent directory = empty."""
    if not directory.is_dir():
        return Catalog((), directory)
    checklists: list[Checklist] = []
    seen: dict[str, Path] = {}
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in (p for p in paths if p.name != GATES_FILE):
        checklist = _load_checklist(path)
        ids = [checklist.id, *(item.id for item in checklist.items)]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError(f"checklist file {path}: id {dup!r} is used twice")
        for some_id in ids:
            if some_id in seen:
                raise ConfigError(
                    f"checklist file {path}: id {some_id!r} is already used in {seen[some_id]}"
                )
            seen[some_id] = path
        checklists.append(checklist)
    return Catalog(tuple(checklists), directory)


#: A sign-off may be dated this far ahead of the gate's clock (clocks of people differ).
SIGNOFF_CLOCK_SKEW = dt.timedelta(minutes=5)


def _signed_at(value: object, where: str) -> dt.datetime:
    """The moment of a sign-off, in UTC (a bare date counts from its start)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{where}: 'at' must be an ISO date-time, got {_shown(value)}"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise ConfigError(f"{where}: 'at' must be an ISO date-time, got {_shown(value)}")


def _at_text(value: object, where: str, now: dt.datetime | None = None) -> str:
    """``value`` as text; a sign-off dated after ``now`` is refused (it cannot have happened)."""
    signed = _signed_at(value, where)
    current = now or dt.datetime.now(dt.UTC)
    if signed > current + SIGNOFF_CLOCK_SKEW:
        raise ConfigError(
            f"{where}: 'at' {signed.isoformat()} is in the future (now {current.isoformat()}):"
            " a sign-off records a check already made; date it when it was made"
        )
    if isinstance(value, dt.datetime):
        return signed.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def check_signable(catalog: Catalog, item_id: str, where: str) -> None:
    item = catalog.item(item_id)
    if item is None:
        raise ConfigError(
            f"{where}: unknown checklist item {item_id!r}"
            f" (items are defined in {catalog.directory})"
        )
    if not item.takes_signoff:
        raise ConfigError(
            f"{where}: {item_id!r} is verified by its checks; only manual and signable items"
            " take a sign-off"
        )


def signoff_path(directory: Path, env: str) -> Path:
    return directory / "signoffs" / f"{env}.yaml"


def read_signoff_file(
    catalog: Catalog, env: str, path: Path, now: dt.datetime | None = None
) -> list[SignOff]:
    """The sign-offs of one env's file, in file order (absent file = none); one dated after
    ``now`` (default: the clock) is refused."""
    if not path.is_file():
        return []
    where = f"sign-off file {path}"
    data = load_yaml_file(path, "sign-off file")
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a list of {{item, by, at, env, note}}")
    signoffs = []
    for index, raw in enumerate(data, 1):
        at = f"{where}, entry {index}"
        raw = mapping_with(raw, _SIGNOFF_KEYS, at, "item, by, at, env, note")
        item_id = _str(raw, "item", at)
        check_signable(catalog, item_id, at)
        signed_env = _str(raw, "env", at)
        if signed_env != env:
            raise ConfigError(f"{at}: env {signed_env!r} does not match the file's env {env!r}")
        signoffs.append(
            SignOff(
                item=item_id,
                by=_text(raw, "by", at),
                at=_at_text(raw.get("at"), at, now),
                env=env,
                note=_text(raw, "note", at, required=False),
                deployment=_text(raw, "deployment", at, required=False),
                standing=_bool(raw, "standing", False, at),
            )
        )
    return signoffs


def load_signoffs(
    catalog: Catalog, env_names: Iterable[str], now: dt.datetime | None = None
) -> dict[str, dict[str, SignOff]]:
    """``<checklists>/signoffs/<env>.yaml`` of every selected env; the last entry of an item
    wins."""
    return {
        env: {
            s.item: s
            for s in read_signoff_file(catalog, env, signoff_path(catalog.directory, env), now)
        }
        for env in env_names
    }


def parse_signoff_options(
    values: Sequence[str] | None,
    catalog: Catalog,
    env_names: Iterable[str],
    now: dt.datetime,
    note: str | None = None,
) -> list[SignOff]:
    """``--signoff ITEM=WHO`` with ``--signoff-note TEXT``: one sign-off per selected env, dated
    now, marked as given on the command line (the gate file lists it among its flags)."""
    signoffs: list[SignOff] = []
    at = now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    for value in values or []:
        item_id, sep, who = value.partition("=")
        if not sep or not item_id.strip() or not who.strip():
            raise ConfigError(f"--signoff {value!r}: expected ITEM=WHO")
        check_signable(catalog, item_id.strip(), f"--signoff {value!r}")
        from promorang_gate.target.validation import TEXT_LIMITS, check_text

        check_text(who.strip(), "--signoff WHO", TEXT_LIMITS["by"])
        signoffs += [
            SignOff(item_id.strip(), who.strip(), at, env, (note or "").strip(), command_line=True)
            for env in env_names
        ]
    if values and not (note or "").strip():
        raise ConfigError(
            f"--signoff {values[0]}: a sign-off needs evidence; add --signoff-note TEXT (what"
            " was checked, where the evidence is), or record it in the sign-off file with"
            " `promorang-gate signoff ITEM --env ENV --by WHO --note TEXT`"
        )
    return signoffs


def _leading_comments(path: Path) -> str:
    if not path.is_file():
        return ""
    head = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        head.append(line)
    return "".join(head)


def record_signoff(catalog: Catalog, signoff: SignOff) -> Path:
    """Write ``signoff`` into its env's sign-off file (replacing the item's earlier entry);
    the file's leading comments are kept."""
    check_signable(catalog, signoff.item, f"sign-off of {signoff.item!r}")
    path = signoff_path(catalog.directory, signoff.env)
    kept = [s for s in read_signoff_file(catalog, signoff.env, path) if s.item != signoff.item]
    entries = [s.to_yaml() for s in [*kept, signoff]]
    body = yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=100)
    write_atomic(path, _leading_comments(path) + body)
    return path
