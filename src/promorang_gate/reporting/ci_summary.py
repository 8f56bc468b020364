"""What a CI run shows without opening an artifact: the job's URL and, when GitHub Actions sets
``$GITHUB_STEP_SUMMARY``, a markdown summary of each env's verdict appended to that file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from promorang_gate.cleanup.leftovers import NOT_REMOVED_HEADING, run_failed_note
from promorang_gate.decision.verdict import EnvVerdict
from promorang_gate.identity.deployed import describe_identity, identity_of

__all__ = ["STEP_SUMMARY", "append_step_summary", "job_url", "render_step_summary"]

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
_ICON = {"allow": "✅", "block": "⛔"}


def job_url(environ: Mapping[str, str]) -> str | None:
    """``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID``, when all are set."""
    parts = [environ.get(k, "").strip() for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")]
    run = environ.get("GITHUB_RUN_ID", "").strip()
    if not all(parts) or not run:
        return None
    return f"{parts[0].rstrip('/')}/{parts[1]}/actions/runs/{run}"


def status_label(status: str) -> str:
    return status.replace("_", " ")


def _cell(text: str | None) -> str:
    """Markdown table cell: one line, no pipe breaking the row."""
    return " ".join((text or "").split()).replace("|", "\\|")


def _env_section(
    verdict: EnvVerdict, flags: Sequence[str], not_removed: Sequence[str]
) -> list[str]:
    counts = ", ".join(f"{n} {status_label(s)}" for s, n in verdict.counts.items())
    failed = run_failed_note(not_removed)
    icon = _ICON["block" if failed else verdict.verdict]
    lines = [
        f"### {icon} `{verdict.environment}`: **{verdict.verdict.upper()}**"
        f" (gate `{verdict.gate}`){f' — **{failed}**' if failed else ''}",
        "",
        counts,
    ]
    if (identity := identity_of(verdict)) is not None:
        lines += ["", f"Deployed: {describe_identity(identity)}"]
    if verdict.blockers:
        lines += ["", "| blocker | status | reason |", "|---|---|---|"]
        lines += [
            f"| `{i.id}` | {status_label(i.status)} | {_cell(i.reason)} |" for i in verdict.blockers
        ]
    if not_removed:
        lines += ["", f"⚠ {NOT_REMOVED_HEADING}:", ""] + [f"- {what}" for what in not_removed]
    if flags:
        lines += ["", "Criteria not as shipped:", ""] + [f"- {flag}" for flag in flags]
    return lines


def render_step_summary(
    verdicts: Sequence[EnvVerdict],
    flags: Mapping[str, Sequence[str]],
    *,
    run_id: str,
    files: Sequence[Path],
    allure_dir: str | None,
    ci_url: str | None,
    not_removed: Mapping[str, Sequence[str]] | None = None,
) -> str:
    lines = ["## promorang-gate", ""]
    for verdict in verdicts:
        env = verdict.environment
        left = (not_removed or {}).get(env, ())
        lines += [*_env_section(verdict, flags.get(env, ()), left), ""]
    lines += [f"Reports of run `{run_id}`:"]
    lines += [f"- `{path}`" for path in files]
    if allure_dir:
        lines.append(
            f"- Allure results `{allure_dir}`: render them with `promorang-gate report`"
            " (the report lands in `reports/allure-report/`)"
        )
    if ci_url:
        lines.append(f"- this run's artifacts: {ci_url}#artifacts")
    return "\n".join(lines) + "\n"


def append_step_summary(path: str, text: str) -> None:
    """Append (GitHub concatenates every step's summary; the file may hold earlier steps')."""
    with Path(path).open("a", encoding="utf-8") as summary:
        summary.write(text)
