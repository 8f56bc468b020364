"""The contract's operations and the checklist item each verifies, read with pyyaml only.

Each operation of the spec names its item with the extension key ``x-checklist-item``, so the
spec, not a second mapping, says what a conforming operation proves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from promorang_gate.safe_yaml import load_document

__all__ = [
    "HTTP_METHODS",
    "ITEM_KEY",
    "DocumentedPaths",
    "load_spec",
    "operation_items",
    "spec_operations",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ITEM_KEY = "x-checklist-item"


@cache
def load_spec(path: Path) -> Mapping[str, Any]:
    """The parsed spec (cached; callers must not modify it)."""
    loaded = load_document(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return loaded


def _operations(spec: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation if isinstance(operation, dict) else {}


def spec_operations(spec: Mapping[str, Any]) -> list[str]:
    """``"METHOD /path"`` labels of every operation in the spec, in document order."""
    return [label for label, _ in _operations(spec)]


def operation_items(spec: Mapping[str, Any]) -> dict[str, str | None]:
    """Label -> the checklist item the operation names (None when it names none)."""
    items: dict[str, str | None] = {}
    for label, operation in _operations(spec):
        item = operation.get(ITEM_KEY)
        items[label] = item if isinstance(item, str) and item else None
    return items


class DocumentedPaths:
    """Matches concrete request paths against the spec's path templates, per method."""

    def __init__(self, labels: Iterable[str]) -> None:
        self._rules: list[tuple[str, re.Pattern[str]]] = []
        for label in labels:
            method, template = label.split(" ", 1)
            parts = re.split(r"(\{[^}/]+\})", template)
            regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
            self._rules.append((method, re.compile(f"^{regex}$")))

    def allows(self, method: str, path: str) -> bool:
        """True when ``method path`` is documented; HEAD counts as documented where GET is."""
        verb = method.upper()
        verbs = {verb, "GET"} if verb == "HEAD" else {verb}
        return any(m in verbs and rx.match(path) for m, rx in self._rules)
