"""``reports/checklist-<env>.md``: what a release manager reads first — the verdict, its gate,
the counts, the blockers with their reasons, the criteria in force, what was tested (URLs, the
application's commit) and what the gate left out — then the runbook's own checklists, ticked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promorang_gate.cleanup.leftovers import NOT_REMOVED_HEADING, run_failed_note
from promorang_gate.decision.checklists import Catalog
from promorang_gate.decision.criteria import Criteria
from promorang_gate.decision.gates import GateChoice
from promorang_gate.decision.verdict import EnvVerdict
from promorang_gate.identity.deployed import describe_identity, identity_of
from promorang_gate.release.app_repo import AppRepo

if TYPE_CHECKING:
    from promorang_gate.target.environments import Target

__all__ = ["MarkdownContext", "render_markdown"]

_URLS = (("API", "api_url"), ("frontend", "frontend_url"), ("Supabase", "supabase_url"))


def label(status: str) -> str:
    return status.replace("_", " ")


@dataclass(frozen=True)
class MarkdownContext:
    """Everything besides the verdict: the run, the gate's choice, the target and the catalog."""

    run_id: str
    finished_at: str
    suite_sha: str | None
    choice: GateChoice | None = None
    target: Target | None = None
    catalog: Catalog | None = None
    not_removed: Sequence[str] = ()  # what this run created and its sweep could not remove


def _item_line(text: str, status: str, reason: str | None) -> str:
    if status == "passed":
        return f"- [x] {text} — passed"
    if status == "manual_signed":
        return f"- [x] {text} — {reason}"
    return f"- [ ] {text} — **{label(status)}**: {reason}"


def _head(verdict: EnvVerdict, ctx: MarkdownContext) -> list[str]:
    counts = ", ".join(f"{n} {label(s)}" for s, n in verdict.counts.items())
    failed = run_failed_note(ctx.not_removed)
    lines = [
        f"# Deploy gate: `{verdict.environment}` — {verdict.verdict.upper()}"
        f"{f' — {failed}' if failed else ''}",
        "",
        f"Environment `{verdict.environment}` — gate `{verdict.gate}` — verdict"
        f" **{verdict.verdict.upper()}** — run `{ctx.run_id}` — {ctx.finished_at}",
        "",
    ]
    if ctx.choice is not None:
        gate = ctx.choice.gate
        lines += [f"Gate `{gate.name}` ({ctx.choice.picked_by}): {gate.description}", ""]
    lines.append(f"Required items: {counts}.")
    if verdict.blockers:
        lines += ["", "## Blockers", ""]
        lines += [f"- `{i.id}` — **{label(i.status)}**: {i.reason}" for i in verdict.blockers]
    elif failed:
        lines += ["", "No blocking item, but the run failed: see what it left below."]
    else:
        lines += ["", "No blockers: every required item passed or is signed off."]
    return lines


def _criteria(criteria: Criteria) -> list[str]:
    lines = ["", "## Criteria in force", ""]
    if criteria.flags:
        lines += ["Not as shipped:", ""] + [f"- ⚠ {flag}" for flag in criteria.flags] + [""]
    else:
        lines += ["All as shipped.", ""]
    settings: dict[str, Any] = criteria.data.get("settings", {})
    for key, entry in settings.items():
        mark = " ⚠" if entry.get("flagged") else ""
        lines.append(f"- `{key}`: {entry.get('value')!r} ({entry.get('source')}){mark}")
    max_age = criteria.data.get("signoff_max_age") or {}
    if max_age:
        lines.append(f"- sign-offs count for {max_age.get('value')} ({max_age.get('source')})")
    digest = (criteria.data.get("checklists") or {}).get("digest")
    if digest:
        lines.append(f"- checklists digest `{digest}`")
    return lines


def _tested(ctx: MarkdownContext) -> list[str]:
    lines = ["", "## What was tested", ""]
    target = ctx.target
    if target is None:
        return [*lines, "- the target was never resolved (no test reached it)"]
    lines += [f"- {name}: {getattr(target, key)}" for name, key in _URLS]
    if target.app_repo:
        repo = AppRepo(target.app_repo)
        head = repo.head()
        lines.append(
            f"- application: commit `{head}` ({target.app_repo})"
            if head
            else f"- application: {target.app_repo} (not a git checkout: no commit known)"
        )
    else:
        lines.append("- application: no repository given (--app-repo / GATE_<ENV>_APP_REPO)")
    if ctx.suite_sha:
        lines.append(f"- gate suite: commit `{ctx.suite_sha}`")
    return lines


def _out_of_scope(verdict: EnvVerdict, ctx: MarkdownContext) -> list[str]:
    lines: list[str] = []
    if ctx.catalog is not None and ctx.choice is not None:
        required, judge = set(ctx.choice.gate.requires), ctx.choice.gate.judged_by
        for checklist in ctx.catalog.checklists:
            own = [i for i in checklist.items if i.judged_by == judge]
            needed = [i for i in own if i.id in required]
            if own and not needed:
                lines.append(f"- {checklist.title} (`{checklist.id}`): not required")
            elif len(needed) < len(own):
                left = ", ".join(f"`{i.id}`" for i in own if i.id not in required)
                lines.append(f"- {checklist.title}: not required: {left}")
            later = ", ".join(f"`{i.id}`" for i in checklist.items if i.judged_by != judge)
            if later:
                # Items another command judges (the watch, after promotion), never this run.
                lines.append(f"- {checklist.title}: judged by `promorang-gate watch`: {later}")
    if ctx.choice is not None and ctx.choice.not_required:
        for reason in sorted(set(ctx.choice.not_required.values())):
            ids = [i for i, why in ctx.choice.not_required.items() if why == reason]
            lines.append(f"- not required here: {', '.join(f'`{i}`' for i in ids)}: {reason}")
    if verdict.out_of_scope:
        lines += [
            f"- ran, does not decide: `{i.id}` ({label(i.status)})" for i in verdict.out_of_scope
        ]
    if not lines:
        return []
    return ["", f"## Out of scope of gate `{verdict.gate}`", "", *lines]


def _not_removed(ctx: MarkdownContext) -> list[str]:
    if not ctx.not_removed:
        return []
    return ["", "## ⚠ Not removed", "", NOT_REMOVED_HEADING + ":", ""] + [
        f"- {what}" for what in ctx.not_removed
    ]


def render_markdown(verdict: EnvVerdict, criteria: Criteria, ctx: MarkdownContext) -> str:
    lines = _head(verdict, ctx) + _not_removed(ctx) + _criteria(criteria) + _tested(ctx)
    if (identity := identity_of(verdict)) is not None:
        lines.append(f"- deployed: {describe_identity(identity)}")
    lines += _out_of_scope(verdict, ctx)
    lines += ["", "## The runbook's checklists"]
    for checklist in verdict.checklists:
        lines += ["", f"### {checklist.title}", ""]
        lines += [_item_line(i.text, i.status, i.reason) for i in checklist.items]
    return "\n".join(lines) + "\n"
