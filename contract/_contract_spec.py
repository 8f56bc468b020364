"""The contract's operations and their checklist items, read with pyyaml only.

Collection imports this module; schemathesis and hypothesis stay out of it (see
``_schemathesis_support`` for everything that sends requests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "HTTP_METHODS",
    "NEGATIVE_OPERATIONS",
    "NOT_CREATE_FLOW",
    "OPERATION_ITEMS",
    "SPEC_PATH",
    "DocumentedPaths",
    "load_spec",
    "spec_operations",
]

SPEC_PATH = Path(__file__).resolve().with_name("openapi.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# One checklist item per documented operation: the spec and this mapping must agree exactly.
OPERATION_ITEMS: Mapping[str, str] = {
    "GET /api/health": "contract.get_health",
    "POST /api/content/upload-image": "contract.upload_image",
    "GET /api/content": "contract.list_content",
    "POST /api/content": "contract.create_content",
    "GET /api/content/{id}": "contract.get_content",
    "PUT /api/content/{id}": "contract.update_content",
    "DELETE /api/content/{id}": "contract.delete_content",
}
# Operations outside the Create flow (no ``create_flow`` marker).
NOT_CREATE_FLOW = frozenset({"GET /api/health"})
# Operations whose invalid input must be refused with 4xx (negative-data tests).
NEGATIVE_OPERATIONS = ("POST /api/content/upload-image", "POST /api/content")


@cache
def load_spec(path: Path = SPEC_PATH) -> Mapping[str, Any]:
    """The parsed spec (cached; callers must not modify it)."""
    with path.open(encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return loaded


def spec_operations(spec: Mapping[str, Any]) -> list[str]:
    """``"METHOD /path"`` labels of every operation in the spec, in document order."""
    labels = []
    for path, item in (spec.get("paths") or {}).items():
        for method in item or {}:
            if method in HTTP_METHODS:
                labels.append(f"{method.upper()} {path}")
    return labels


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
