"""Checklists as data (architecture.md §3): the catalog and the sign-offs of manual items."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promorang_gate.errors import ConfigError
from promorang_gate.safe_yaml import load_yaml_file

__all__ = [
    "Catalog",
    "Checklist",
    "ChecklistItem",
    "SignOff",
    "load_catalog",
    "load_signoffs",
    "parse_signoff_options",
]

_ITEM_ID = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$")
_CHECKLIST_KEYS = {"id", "title", "source", "link", "items"}
_ITEM_KEYS = {"id", "text", "gating", "manual"}
_SIGNOFF_KEYS = {"item", "by", "at", "env", "note"}


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    text: str
    checklist_id: str
    gating: bool = True
    manual: bool = False


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

    def describe(self) -> str:
        text = f"signed by {self.by} at {self.at}"
        return f"{text}: {self.note}" if self.note else text


@dataclass(frozen=True)
class Catalog:
    checklists: tuple[Checklist, ...]
    directory: Path

    @property
    def items(self) -> dict[str, ChecklistItem]:
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


def _bool(data: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, got {_shown(value)}")
    return value


def _load_yaml(path: Path, what: str = "checklist file") -> Any:
    return load_yaml_file(path, what)


def _mapping(raw: Any, allowed: set[str], at: str, shape: str) -> dict[str, Any]:
    """`raw` as a mapping with only `allowed` keys, else a ConfigError saying where."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: expected a mapping with {shape}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {', '.join(map(str, unknown))}")
    return raw


def _load_checklist(path: Path) -> Checklist:
    data = _mapping(_load_yaml(path), _CHECKLIST_KEYS, f"checklist file {path}", "id, title, items")
    where = f"checklist file {path}"
    checklist_id = _str(data, "id", where)
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ConfigError(f"{where}: 'items' must be a non-empty list")
    items: list[ChecklistItem] = []
    for index, raw in enumerate(raw_items, 1):
        at = f"{where}, item {index}"
        raw = _mapping(raw, _ITEM_KEYS, at, "id and text")
        item_id = _str(raw, "id", at)
        if not _ITEM_ID.match(item_id):
            raise ConfigError(f"{at}: item id {item_id!r} must look like '<checklist>.<slug>'")
        items.append(
            ChecklistItem(
                id=item_id,
                text=_str(raw, "text", f"{where}, item {item_id!r}"),
                checklist_id=checklist_id,
                gating=_bool(raw, "gating", True, at),
                manual=_bool(raw, "manual", False, at),
            )
        )
    return Checklist(
        id=checklist_id,
        title=_str(data, "title", where),
        source=_str(data, "source", where, required=False),
        link=_str(data, "link", where, required=False),
        items=tuple(items),
        path=path,
    )


def load_catalog(directory: Path) -> Catalog:
    """Every ``*.yaml`` in ``directory`` (not its sub-directories); absent directory = empty."""
    if not directory.is_dir():
        return Catalog((), directory)
    checklists: list[Checklist] = []
    seen: dict[str, Path] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
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


def _check_signable(catalog: Catalog, item_id: str, where: str) -> None:
    item = catalog.item(item_id)
    if item is None:
        raise ConfigError(
            f"{where}: unknown checklist item {item_id!r}"
            f" (items are defined in {catalog.directory})"
        )
    if not item.manual:
        raise ConfigError(
            f"{where}: {item_id!r} is not a manual item; only manual items take a sign-off"
        )


def load_signoffs(
    catalog: Catalog, env_names: Iterable[str], now: dt.datetime | None = None
) -> dict[str, dict[str, SignOff]]:
    """``<checklists>/signoffs/<env>.yaml`` of every selected env (absent file = none); a
    sign-off dated after ``now`` (default: the clock) is refused."""
    result: dict[str, dict[str, SignOff]] = {}
    for env in env_names:
        result[env] = {}
        path = catalog.directory / "signoffs" / f"{env}.yaml"
        if not path.is_file():
            continue
        where = f"sign-off file {path}"
        data = _load_yaml(path, "sign-off file")
        if data is None:
            continue
        if not isinstance(data, list):
            raise ConfigError(f"{where}: expected a list of {{item, by, at, env, note}}")
        for index, raw in enumerate(data, 1):
            at = f"{where}, entry {index}"
            raw = _mapping(raw, _SIGNOFF_KEYS, at, "item, by, at, env, note")
            item_id = _str(raw, "item", at)
            _check_signable(catalog, item_id, at)
            signed_env = _str(raw, "env", at)
            if signed_env != env:
                raise ConfigError(f"{at}: env {signed_env!r} does not match the file's env {env!r}")
            result[env][item_id] = SignOff(
                item=item_id,
                by=_str(raw, "by", at),
                at=_at_text(raw.get("at"), at, now),
                env=env,
                note=_str(raw, "note", at, required=False),
            )
    return result


def parse_signoff_options(
    values: Sequence[str] | None,
    catalog: Catalog,
    env_names: Iterable[str],
    now: dt.datetime,
) -> list[SignOff]:
    """``--signoff ITEM=WHO``: one sign-off per selected env, dated now."""
    signoffs: list[SignOff] = []
    at = now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    for value in values or []:
        item_id, sep, who = value.partition("=")
        if not sep or not item_id.strip() or not who.strip():
            raise ConfigError(f"--signoff {value!r}: expected ITEM=WHO")
        _check_signable(catalog, item_id.strip(), f"--signoff {value!r}")
        signoffs += [
            SignOff(item_id.strip(), who.strip(), at, env, "signed on the command line")
            for env in env_names
        ]
    return signoffs
