"""Collection-time work of the plugin: checklist tags, deselection records, report redaction."""

from __future__ import annotations

from typing import Any

import pytest

from promorang_gate import state
from promorang_gate.redaction import Redactor

__all__ = ["checklist_ids", "record_deselected", "redact_report", "tag_items"]

CHECKLIST_PROPERTY = "gate_checklist"
ENV_PROPERTY = "gate_env"


def checklist_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("checklist"):
        ids += [str(i) for i in mark.args if str(i) not in ids]
    return ids


def _env_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ""
    return str(callspec.params.get("gate_target", ""))


def tag_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate ``checklist`` markers; add ``gate_checklist``/``gate_env`` user properties.

    A usage error on an xdist worker would crash the worker; instead the worker runs nothing
    and hands the message to the controller, which ends the session with it."""
    try:
        _tag_items(config, items)
    except pytest.UsageError as exc:
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is None:
            raise
        workeroutput["gate_usage_error"] = str(exc)
        items.clear()


def _tag_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    catalog = config.stash[state.CHECKLISTS]
    known = catalog.items
    for item in items:
        if item.get_closest_marker("checklist") is None:
            continue
        ids = checklist_ids(item)
        if not ids:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.checklist needs at least one item id"
                f" (ids are defined in {catalog.directory})"
            )
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: unknown checklist item {', '.join(map(repr, unknown))}"
                f" in @pytest.mark.checklist (known ids are defined in {catalog.directory})"
            )
        env = _env_of(item)
        item.user_properties.append((CHECKLIST_PROPERTY, " ".join(ids)))
        item.user_properties.append((ENV_PROPERTY, env))
        _allure_labels(item, catalog, ids, env)


def _allure_labels(item: pytest.Item, catalog: Any, ids: list[str], env: str) -> None:
    try:
        from promorang_gate.allure_support import add_labels
    except ImportError:  # allure support is optional
        return
    by_checklist: dict[str, list[Any]] = {}
    for item_id in ids:
        entry = catalog.items[item_id]
        by_checklist.setdefault(entry.checklist_id, []).append(entry)
    for checklist_id, entries in by_checklist.items():
        add_labels(item, catalog.checklist(checklist_id), entries, env or None)


def record_deselected(items: list[pytest.Item]) -> None:
    """Deselected checklist tests leave their items ``not_verified``; workers pass them on."""
    for item in items:
        props = dict(item.user_properties)
        ids = str(props.get(CHECKLIST_PROPERTY, "")).split()
        if not ids:
            continue
        env = str(props.get(ENV_PROPERTY, ""))
        config = item.config
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput.setdefault("gate_deselected", []).append([item.nodeid, env, ids])
            continue
        reporter = config.stash.get(state.REPORTER, None)
        if reporter is not None:
            reporter.collector.deselect(item.nodeid, env, ids)


def redact_report(report: pytest.TestReport | pytest.CollectReport, redactor: Redactor) -> None:
    """Remove secrets from a report's longrepr and captured sections, in place."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        report.longrepr = (longrepr[0], longrepr[1], redactor.redact(str(longrepr[2])))
    elif longrepr is not None:
        text = str(longrepr)
        cleaned = redactor.redact(text)
        if cleaned != text:
            report.longrepr = cleaned
    report.sections = [(title, redactor.redact(content)) for title, content in report.sections]
    wasxfail = getattr(report, "wasxfail", None)
    if isinstance(wasxfail, str):
        report.wasxfail = redactor.redact(wasxfail)  # type: ignore[union-attr]
