"""Verdict files and the terminal table; ``GateReporter`` is registered on the controller only.

Files (architecture.md §4): ``gate-<env>.json`` and ``checklist-<env>.md``, each written
atomically. Gate and checklist files of earlier runs not rewritten by this run are removed, so
``promorang-gate verdict`` never reads a stale ``allow``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from promorang_gate.checklists import Catalog, SignOff
from promorang_gate.environments import URL_KEYS, Target
from promorang_gate.redaction import Redactor
from promorang_gate.verdict import (
    EnvVerdict,
    OutcomeCollector,
    PhaseReport,
    compute_verdict,
    one_line,
)

__all__ = [
    "GateReporter",
    "phase_report",
    "remove_stale",
    "render_json",
    "render_markdown",
    "status_label",
    "summary_line",
    "table_lines",
    "write_atomic",
]

_LABELS = {
    "passed": "passed",
    "failed": "failed",
    "not_verified": "not verified",
    "manual_signed": "manual signed",
    "manual_missing": "manual missing",
}


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_label(status: str) -> str:
    return _LABELS.get(status, status)


def _failure_message(longrepr: object) -> str | None:
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = str(longrepr or "")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for line in lines:
        if line.startswith("E "):
            return line[1:].strip()
    return lines[-1].strip() if lines else None


def _skip_message(longrepr: object) -> str | None:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    text = text.strip()
    return text.removeprefix("Skipped:").strip() or None


def phase_report(report: pytest.TestReport, redactor: Redactor) -> PhaseReport:
    """The gate's view of one report; texts redacted."""
    message: str | None = None
    if report.outcome == "failed":
        message = _failure_message(report.longrepr)
    elif report.outcome == "skipped":
        message = _skip_message(report.longrepr)
    wasxfail = getattr(report, "wasxfail", None)
    return PhaseReport(
        nodeid=report.nodeid,
        when=report.when or "call",
        outcome=report.outcome,
        message=redactor.redact(message) if message else None,
        wasxfail=redactor.redact(str(wasxfail)) if wasxfail is not None else None,
        user_properties=list(report.user_properties),
    )


def suite_sha(rootdir: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=rootdir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and sha else None


def render_json(verdict: EnvVerdict, meta: Mapping[str, Any], target: Target | None) -> str:
    data = {
        "environment": verdict.environment,
        "verdict": verdict.verdict,
        "run_id": meta["run_id"],
        "targets": {key: getattr(target, key) if target else None for key in URL_KEYS},
        "started_at": meta["started_at"],
        "finished_at": meta["finished_at"],
        "suite_sha": meta["suite_sha"],
        "pytest_args": list(meta["pytest_args"]),
        "checklists": [c.to_json() for c in verdict.checklists],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _md_line(text: str, status: str, reason: str | None) -> str:
    if status == "passed":
        return f"- [x] {text} — passed"
    if status == "manual_signed":
        return f"- [x] {text} — {reason}"
    if status == "manual_missing":
        return f"- [ ] {text} — **manual sign-off missing**"
    return f"- [ ] {text} — **{status_label(status)}**: {reason}"


def render_markdown(verdict: EnvVerdict, meta: Mapping[str, Any]) -> str:
    lines = [
        f"# Deploy gate: `{verdict.environment}`",
        "",
        f"Environment `{verdict.environment}` — verdict **{verdict.verdict.upper()}**"
        f" — run `{meta['run_id']}` — {meta['finished_at']}",
    ]
    for checklist in verdict.checklists:
        lines += ["", f"### {checklist.title}", ""]
        lines += [_md_line(i.text, i.status, i.reason) for i in checklist.items]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """A reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale(directory: Path, keep: Iterable[Path]) -> list[Path]:
    """Remove ``gate-*.json`` and ``checklist-*.md`` not in ``keep``."""
    if not directory.is_dir():
        return []
    kept = {p.resolve() for p in keep}
    removed = []
    for path in [*directory.glob("gate-*.json"), *directory.glob("checklist-*.md")]:
        if path.resolve() not in kept:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def summary_line(verdict: EnvVerdict) -> str:
    counts = verdict.counts
    parts = ", ".join(f"{counts[s]} {status_label(s)}" for s in counts)
    return f"GATE {verdict.environment}: {verdict.verdict.upper()} ({parts})"


def table_lines(verdicts: Sequence[EnvVerdict], redactor: Redactor) -> list[str]:
    rows = [("env", "checklist", "item", "status")]
    for verdict in verdicts:
        for checklist in verdict.checklists:
            for item in checklist.items:
                status = status_label(item.status)
                if item.status not in ("passed", "manual_signed") and item.reason:
                    status += f": {one_line(item.reason, 100)}"
                rows.append((verdict.environment, checklist.id, item.id, status))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    return [redactor.redact(line) for line in lines]


class GateReporter:
    """Collects every report on the controller; computes and writes verdicts at session end."""

    def __init__(
        self,
        *,
        env_names: Sequence[str],
        catalog: Catalog,
        signoffs: Mapping[str, Mapping[str, SignOff]],
        targets: Any,
        redactor: Redactor,
        reports_dir: Path,
        rootdir: Path,
        run_id: str,
        pytest_args: Sequence[str],
        allure_dir: str | None = None,
    ) -> None:
        self.env_names = list(env_names)
        self.catalog = catalog
        self.signoffs = signoffs
        self.targets = targets
        self.redactor = redactor
        self.reports_dir = reports_dir
        self.rootdir = rootdir
        self.run_id = run_id
        self.pytest_args = list(pytest_args)
        self.allure_dir = allure_dir
        self.collector = OutcomeCollector()
        self.started_at = utc_now()
        self.verdicts: list[EnvVerdict] = []
        self.written: list[Path] = []
        # Set when an xdist worker found a usage error during collection.
        self.usage_error: str | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started_at = utc_now()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.collector.add(phase_report(report, self.redactor))

    def compute(self) -> list[EnvVerdict]:
        outcomes = self.collector.outcomes()
        verdicts = []
        for env in self.env_names:
            verdict = compute_verdict(env, self.catalog, outcomes, self.signoffs.get(env, {}))
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.USAGE_ERROR:
            return
        if self.usage_error:
            # Same outcome as without xdist: the message, the usage-error code, no report.
            sys.stderr.write(f"ERROR: {self.redactor.redact(self.usage_error)}\n")
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        self.verdicts = self.compute()
        meta = {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": utc_now(),
            "suite_sha": suite_sha(self.rootdir),
            "pytest_args": [self.redactor.redact(a) for a in self.pytest_args],
        }
        self.written = []
        for verdict in self.verdicts:
            env = verdict.environment
            target = self.targets.resolved(env)
            gate = self.reports_dir / f"gate-{env}.json"
            write_atomic(gate, self.redactor.redact(render_json(verdict, meta, target)))
            md = self.reports_dir / f"checklist-{env}.md"
            write_atomic(md, self.redactor.redact(render_markdown(verdict, meta)))
            self.written += [gate, md]
        remove_stale(self.reports_dir, self.written)
        self._write_allure()
        blocked = any(v.verdict == "block" for v in self.verdicts)
        if blocked and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_allure(self) -> None:
        """Allure's environment.properties and categories.json, when Allure results are on."""
        if not self.allure_dir:
            return
        from promorang_gate.allure_support import write_categories, write_environment_properties

        resolved = {n: t for n in self.env_names if (t := self.targets.resolved(n)) is not None}
        write_environment_properties(self.allure_dir, resolved, self.redactor, self.run_id)
        write_categories(self.allure_dir)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.verdicts:
            return
        terminalreporter.write_sep("=", "promorang-gate")
        for line in table_lines(self.verdicts, self.redactor):
            terminalreporter.write_line(line)
        for verdict in self.verdicts:
            line = self.redactor.redact(summary_line(verdict))
            terminalreporter.write_line(
                line, bold=True, green=verdict.verdict == "allow", red=verdict.verdict == "block"
            )
        for path in self.written:
            if path.suffix == ".json":
                terminalreporter.write_line(f"gate file: {path}")
