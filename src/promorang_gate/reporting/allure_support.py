"""Allure integration: runbook labels on tests, the environment and categories files, charts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from promorang_gate.reporting.latency_chart import latency_histogram_svg
from promorang_gate.secrets.redaction import Redactor

if TYPE_CHECKING:
    from promorang_gate.target.environments import Target

__all__ = [
    "CATEGORIES_FILE",
    "EPIC",
    "add_labels",
    "attach_svg",
    "categories",
    "latency_histogram_svg",
    "write_categories",
    "write_environment_properties",
]

EPIC = "Operations Runbook"
ALL_ENVS = "all environments"


class _Item(Protocol):
    id: str
    text: str
    gating: bool


class _Checklist(Protocol):
    title: str
    link: str


def _label(value: str, label_type: str) -> pytest.MarkDecorator:
    return pytest.mark.allure_label(value, label_type=label_type)


def add_labels(
    item: pytest.Item, checklist: _Checklist, items: Iterable[_Item], env_name: str | None
) -> None:
    """Mark ``item`` with the labels allure-pytest reads (``allure_label``/``allure_link``)."""
    items = list(items)
    item.add_marker(_label(EPIC, "epic"))
    item.add_marker(_label(checklist.title, "feature"))
    for entry in items:
        item.add_marker(_label(entry.text, "story"))
        item.add_marker(_label(entry.id, "tag"))
    severity = "blocker" if any(entry.gating for entry in items) else "normal"
    item.add_marker(_label(severity, "severity"))
    item.add_marker(_label(env_name or ALL_ENVS, "parentSuite"))
    if checklist.link:
        item.add_marker(
            pytest.mark.allure_link(checklist.link, link_type="link", name=checklist.title)
        )


def _prop(value: object) -> str:
    # java.util.Properties: backslash escapes, no raw newlines.
    text = str(value).replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    return text


def write_environment_properties(
    directory: str | Path,
    targets: Mapping[str, Target],
    redactor: Redactor,
    run_id: str | None = None,
) -> Path:
    """``environment.properties``: env names, URLs, writes_allowed, run id; never a secret."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"environments={_prop(', '.join(targets))}"]
    if run_id:
        lines.append(f"run_id={_prop(run_id)}")
    for name, target in targets.items():
        for key in ("api_url", "frontend_url", "supabase_url", "bucket", "writes_allowed"):
            value = redactor.redact(str(getattr(target, key)))
            lines.append(f"{name}.{key}={_prop(value)}")
    path = out / "environment.properties"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Allure puts a result in the first category that matches: the gate's own statuses first, then
# unreachable before slow before product defect. One file serves the results directory
# (Allure 2) and allurerc.mjs (Allure 3); names never carry a run id, so runs merge.
CATEGORIES_FILE = Path(__file__).with_name("allure_categories.json")


def categories() -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(CATEGORIES_FILE.read_text(encoding="utf-8"))
    return data


def write_categories(directory: str | Path) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "categories.json"
    path.write_text(json.dumps(categories(), indent=2) + "\n", encoding="utf-8")
    return path


def attach_svg(name: str, svg_text: str) -> None:
    import allure

    allure.attach(svg_text, name=name, attachment_type=allure.attachment_type.SVG)
