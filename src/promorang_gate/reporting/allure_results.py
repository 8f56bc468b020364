"""The verdict inside the Allure results: one result per required checklist item of each env's
gate, a "Gate verdict: <env>" result, and ``executor.json``. Written once, by the controller, at
session end and only when a verdict was reached; every byte goes through the ``Redactor``.

Statuses, chosen so a report can never look greener than its verdict (Allure's success rate
counts passed, failed and broken results; skipped and unknown are left out of it):

| item status | Allure status | category |
|---|---|---|
| passed | passed | — |
| manual_signed | passed (the sign-off in the description) | — |
| failed | failed | product defect / infrastructure / slow, by its reason |
| not_verified | broken when it gates, else skipped | not verified |
| manual_missing | broken when it gates, else skipped | manual missing |

and the verdict result is failed on ``block``. The item results carry the labels the tests carry
(parentSuite = env, feature = checklist title, story = item text), so an item and its tests sit
together in the tree; the verdict result has only parentSuite and sits at the env's top.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promorang_gate.cleanup.leftovers import NOT_REMOVED_HEADING
from promorang_gate.decision.checklists import Catalog
from promorang_gate.decision.verdict import EnvVerdict, ItemResult
from promorang_gate.identity.deployed import describe_identity, identity_of
from promorang_gate.reporting.allure_support import EPIC
from promorang_gate.reporting.ci_summary import job_url
from promorang_gate.secrets.redaction import Redactor

__all__ = [
    "MESSAGE_PREFIX",
    "GateResults",
    "allure_status",
    "executor_info",
    "write_gate_results",
]

#: Message prefixes the categories match (allure_categories.json), in Allure 2 and 3 alike.
MESSAGE_PREFIX = {
    "failed": "failed: ",
    "not_verified": "not verified: ",
    "manual_missing": "manual missing: ",
}
#: Blockers named in the verdict's message (all of them are in its description).
MESSAGE_BLOCKERS = 8
_PASSING = {"passed": "passed", "manual_signed": "passed", "failed": "failed"}


@dataclass(frozen=True)
class GateResults:
    """What the writer needs besides the verdicts (all of it already known to the reporter)."""

    run_id: str
    suite_sha: str | None
    finished_ms: int
    gate_files: Mapping[str, str]  # env -> the gate file's (redacted) JSON text
    picked_by: Mapping[str, str]  # env -> what picked its gate
    flags: Mapping[str, Sequence[str]]  # env -> criteria not as shipped
    not_removed: Mapping[str, Sequence[str]] = field(default_factory=dict)  # env -> leftovers
    #: When the run started: the verdict result is dated just before it, so the report's tree
    #: (sorted by start) shows it first in its environment.
    started_ms: int | None = None


def allure_status(item: ItemResult) -> str:
    """Allure's status of a checklist item; anything blocking counts against the success rate."""
    if item.status in _PASSING:
        return _PASSING[item.status]
    return "broken" if item.gating else "skipped"


def _digest(*parts: str) -> str:
    return hashlib.md5("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


#: The tree group (under the environment) that holds the verdict result.
VERDICT_FEATURE = "Gate verdict"


def _labels(env: str, **extra: str) -> list[dict[str, str]]:
    labels = {"parentSuite": env, "epic": EPIC, **extra}
    return [{"name": name, "value": value} for name, value in labels.items()]


def _item_description(item: ItemResult, verdict: EnvVerdict) -> str:
    lines = [
        f"Checklist item `{item.id}`, required by gate `{verdict.gate}` on env"
        f" `{verdict.environment}`: **{item.status.replace('_', ' ')}**"
        + ("" if item.gating else " (does not gate)"),
    ]
    if item.reason:
        label = "Sign-off" if item.status == "manual_signed" else "Reason"
        lines += ["", f"{label}: {item.reason}"]
    if item.checks:
        lines += ["", "Declared checks:", ""] + [f"- `{check}`" for check in item.checks]
    if item.tests:
        lines += ["", "Tests that ran for it:", ""] + [f"- `{test}`" for test in item.tests]
    if item.metrics:
        lines += ["", "Figures:", "", "```json", json.dumps(dict(item.metrics), indent=2), "```"]
    return "\n".join(lines)


def _item_result(
    item: ItemResult, title: str, link: str, verdict: EnvVerdict, at_ms: int
) -> dict[str, Any]:
    env = verdict.environment
    result: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "historyId": _digest("promorang-gate item", env, item.id),
        "testCaseId": _digest("promorang-gate item", item.id),
        "fullName": f"promorang-gate:{env}:{item.id}",
        # The tree shows it under the item's wording (story): the id and the status say the rest.
        "name": f"Checklist item {item.id}: {item.status.replace('_', ' ')}",
        "status": allure_status(item),
        "stage": "finished",
        "description": _item_description(item, verdict),
        "start": at_ms,
        "stop": at_ms,
        "labels": _labels(
            env,
            feature=title,
            story=item.text,
            tag=item.id,
            severity="blocker" if item.gating else "normal",
        ),
        "links": [{"type": "link", "url": link, "name": title}] if link else [],
        "parameters": [{"name": "env", "value": env}],
    }
    if item.status in MESSAGE_PREFIX:
        details = {"message": MESSAGE_PREFIX[item.status] + (item.reason or item.status)}
        if item.detail:
            details["trace"] = item.detail
        result["statusDetails"] = details
    return result


def _verdict_message(verdict: EnvVerdict) -> str:
    counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in verdict.counts.items() if n)
    if verdict.verdict == "allow":
        return f"ALLOW by gate {verdict.gate}: {counts}"
    named = [f"{i.id} ({i.status.replace('_', ' ')})" for i in verdict.blockers]
    more = len(named) - MESSAGE_BLOCKERS
    listed = "; ".join(named[:MESSAGE_BLOCKERS]) + (f"; and {more} more" if more > 0 else "")
    return f"BLOCK by gate {verdict.gate}: {len(named)} blocker(s): {listed}"


def _verdict_description(verdict: EnvVerdict, info: GateResults) -> str:
    env = verdict.environment
    lines = [
        f"**{verdict.verdict.upper()}**: env `{env}` judged by gate `{verdict.gate}`"
        f" ({info.picked_by.get(env, '?')}), run `{info.run_id}`"
        + (f", suite `{info.suite_sha[:12]}`" if info.suite_sha else ""),
        "",
        "| status | items |",
        "|---|---|",
    ]
    lines += [f"| {s.replace('_', ' ')} | {n} |" for s, n in verdict.counts.items()]
    if verdict.blockers:
        lines += ["", "Blockers:", ""]
        lines += [
            f"- `{i.id}` ({i.status.replace('_', ' ')}): {i.reason}" for i in verdict.blockers
        ]
    if info.not_removed.get(env):
        lines += ["", f"⚠ {NOT_REMOVED_HEADING}:", ""]
        lines += [f"- {what}" for what in info.not_removed[env]]
    if info.flags.get(env):
        lines += ["", "Criteria not as shipped:", ""] + [f"- {f}" for f in info.flags[env]]
    if verdict.out_of_scope:
        lines += ["", f"Out of scope of gate `{verdict.gate}` (ran, does not decide):", ""]
        lines += [f"- `{i.id}`: {i.status.replace('_', ' ')}" for i in verdict.out_of_scope]
    return "\n".join(lines)


def _verdict_result(
    verdict: EnvVerdict, info: GateResults, attachment: str | None
) -> dict[str, Any]:
    env = verdict.environment
    message = _verdict_message(verdict)
    first = info.finished_ms if info.started_ms is None else info.started_ms - 1
    left = info.not_removed.get(env, ())
    if left:
        # The run fails on them whatever the verdict: the report must not read green.
        message += f"; {len(left)} thing(s) this run created could not be removed"
    result: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "historyId": _digest("promorang-gate verdict", env),
        "testCaseId": _digest("promorang-gate verdict"),
        "fullName": f"promorang-gate:{env}:verdict",
        "name": f"Gate verdict: {env}",
        "status": "passed" if verdict.verdict == "allow" and not left else "failed",
        "stage": "finished",
        "statusDetails": {"message": message},
        "description": _verdict_description(verdict, info),
        "start": first,
        "stop": first,
        # A group of its own, dated first: the tree lists it before the checklists.
        "labels": _labels(env, feature=VERDICT_FEATURE, severity="blocker", tag="gate verdict"),
        "parameters": [{"name": "env", "value": env}, {"name": "gate", "value": verdict.gate}],
    }
    if attachment:
        result["attachments"] = [
            {"name": f"gate-{env}.json", "source": attachment, "type": "application/json"}
        ]
    return result


def executor_info(
    environ: Mapping[str, str],
    run_id: str,
    suite_sha: str | None,
    deployed: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``executor.json``: which run produced the results (the CI job when there is one) and,
    per env, the deployment it tested (``identity``)."""
    build = f"gate run {run_id}" + (f" (suite {suite_sha[:12]})" if suite_sha else "")
    for env, described in (deployed or {}).items():
        build += f"; {env}: {described}"
    info: dict[str, object] = {
        "name": "promorang-gate",
        "type": "local",
        "buildName": build,
        "reportName": "promorang-gate",
    }
    url = job_url(environ)
    if url:
        run_number = environ.get("GITHUB_RUN_NUMBER", "")
        info.update(name="GitHub Actions", type="github", buildUrl=url)
        info["url"] = url.split("/actions/runs/", 1)[0]
        if run_number.isdigit():
            info["buildOrder"] = int(run_number)
    return info


def _deployed(verdict: EnvVerdict) -> str:
    return describe_identity(identity_of(verdict) or {})


def _write(directory: Path, name: str, data: object, redactor: Redactor) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    (directory / name).write_text(redactor.redact(text), encoding="utf-8")


def write_gate_results(
    directory: str | Path,
    verdicts: Sequence[EnvVerdict],
    catalog: Catalog,
    info: GateResults,
    redactor: Redactor,
    environ: Mapping[str, str],
) -> list[Path]:
    """Write the item and verdict results of every env, and ``executor.json``; their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for verdict in verdicts:
        for checklist in verdict.checklists:
            link = catalog.checklist(checklist.id).link
            for item in checklist.items:
                data = _item_result(item, checklist.title, link, verdict, info.finished_ms)
                _write(out, f"{data['uuid']}-result.json", data, redactor)
                written.append(out / f"{data['uuid']}-result.json")
        source = None
        gate_file = info.gate_files.get(verdict.environment)
        if gate_file is not None:
            source = f"{uuid.uuid4()}-attachment.json"
            (out / source).write_text(redactor.redact(gate_file), encoding="utf-8")
        data = _verdict_result(verdict, info, source)
        _write(out, f"{data['uuid']}-result.json", data, redactor)
        written.append(out / f"{data['uuid']}-result.json")
    deployed = {v.environment: _deployed(v) for v in verdicts if identity_of(v) is not None}
    executor = executor_info(environ, info.run_id, info.suite_sha, deployed)
    _write(out, "executor.json", executor, redactor)
    return [*written, out / "executor.json"]
