"""Collection-time work of the plugin: checklist tags and claims, deselection records, failure
reasons and report redaction."""

from __future__ import annotations

from typing import Any

import pytest

from promorang_gate import state
from promorang_gate.decision.checklists import Catalog
from promorang_gate.decision.verdict import CHECK_PROPERTY, CHECKLIST_PROPERTY, one_line
from promorang_gate.secrets.redaction import Redactor

__all__ = [
    "check_id",
    "checklist_ids",
    "failure_reason",
    "record_deselected",
    "redact_report",
    "tag_items",
]

ENV_PROPERTY = "gate_env"
#: The whole failure text kept in the gate file's ``detail`` (redacted first, then cut).
DETAIL_LIMIT = 20_000


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


def check_id(nodeid: str, env: str) -> str:
    """``nodeid`` without the environment's parameter id: the check a checklist item declares."""
    base, bracket, rest = nodeid.partition("[")
    if not bracket or not env:
        return nodeid
    params = rest[:-1] if rest.endswith("]") else rest
    if params == env:
        return base
    if params.startswith(f"{env}-"):
        return f"{base}[{params[len(env) + 1 :]}]"
    if params.endswith(f"-{env}"):
        return f"{base}[{params[: -len(env) - 1]}]"
    return nodeid


def _tag_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    catalog = config.stash[state.CHECKLISTS]
    collected: list[list[Any]] = []
    for item in items:
        if item.get_closest_marker("checklist") is None:
            continue
        ids = checklist_ids(item)
        _check_claim(item, ids, catalog)
        env = _env_of(item)
        check = check_id(item.nodeid, env)
        _check_declared(item, ids, check, catalog)
        item.user_properties.append((CHECKLIST_PROPERTY, " ".join(ids)))
        item.user_properties.append((ENV_PROPERTY, env))
        item.user_properties.append((CHECK_PROPERTY, check))
        _allure_labels(item, catalog, ids, env)
        collected.append([item.nodeid, env, ids, check])
    _record_collected(config, collected)


def _record_collected(config: pytest.Config, collected: list[list[Any]]) -> None:
    """Every collected check, before anything deselects or drops one: what never reports back
    (stopped by -x, lost with a worker, dropped by a plugin) is then known to have never run."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["gate_collected"] = collected
        return
    reporter = config.stash.get(state.REPORTER, None)
    if reporter is not None:
        for nodeid, env, ids, check in collected:
            reporter.collector.collect(nodeid, env, ids, check)


def _check_claim(item: pytest.Item, ids: list[str], catalog: Catalog) -> None:
    if not ids:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.checklist needs at least one item id"
            f" (ids are defined in {catalog.directory})"
        )
    unknown = [i for i in ids if i not in catalog.items]
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: unknown checklist item {', '.join(map(repr, unknown))}"
            f" in @pytest.mark.checklist (known ids are defined in {catalog.directory})"
        )
    manual = [i for i in ids if catalog.items[i].manual]
    if manual:
        raise pytest.UsageError(
            f"{item.nodeid}: {', '.join(manual)} is a manual item: it is signed off, not tested"
        )
    if "gate_target" not in getattr(item, "fixturenames", ()):
        raise pytest.UsageError(
            f"{item.nodeid} claims {', '.join(ids)} but never touches the target (no"
            " gate_target among its fixtures): a check that sends nothing belongs to the"
            " project's own tests, not to a checklist item"
        )


def _check_declared(item: pytest.Item, ids: list[str], check: str, catalog: Catalog) -> None:
    """A test may claim an item that declares its checks only if it is one of them."""
    function = check.split("[", 1)[0]
    for item_id in ids:
        declared = catalog.items[item_id].checks
        if declared and check not in declared and function not in declared:
            raise pytest.UsageError(
                f"{item.nodeid} claims {item_id}, which does not list it among its checks:"
                f" add '{function}' under 'checks:' of {item_id} in {catalog.directory}"
            )


def _allure_labels(item: pytest.Item, catalog: Any, ids: list[str], env: str) -> None:
    try:
        from promorang_gate.reporting.allure_support import add_labels
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
        check = str(props.get(CHECK_PROPERTY, ""))
        config = item.config
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput.setdefault("gate_deselected", []).append([item.nodeid, env, ids, check])
            continue
        reporter = config.stash.get(state.REPORTER, None)
        if reporter is not None:
            reporter.collector.deselect(item.nodeid, env, ids, check)


def failure_reason(exc: BaseException) -> str:
    """The failure in the words of the failing check: an assertion's own message, else the
    exception's short name and message (never a module path)."""
    text = str(exc).strip()
    if isinstance(exc, AssertionError | pytest.fail.Exception):
        return text or "assertion failed"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def add_failure_reason(
    report: pytest.TestReport, call: pytest.CallInfo[None], redactor: Redactor
) -> None:
    """``gate_reason`` (one line) and ``gate_detail`` (the whole text) on a failed report;
    redacted before they are cut. Plain attributes travel with xdist's serialized reports."""
    if not report.failed or call.excinfo is None:
        return
    reason = redactor.redact(failure_reason(call.excinfo.value))
    report.gate_reason = one_line(reason)  # type: ignore[attr-defined]
    detail = redactor.redact(str(report.longrepr or ""))
    report.gate_detail = detail[:DETAIL_LIMIT]  # type: ignore[attr-defined]


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
