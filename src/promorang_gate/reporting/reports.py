"""Verdict files and the terminal table; ``GateReporter`` is registered on the controller only.

Files (architecture.md §4): ``gate-<env>.json``, ``checklist-<env>.md`` and ``junit-<env>.xml``
(unless ``--junitxml`` was given), the verdict in the Allure results and the CI step summary,
written only by a run that reached a verdict: ``--collect-only``, usage errors, internal errors and
interrupted runs leave the files of earlier runs exactly as they were. A run that started
testing leaves ``.gate-<env>.running`` until it writes its verdict, so ``promorang-gate
verdict`` can tell that a newer run never finished.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promorang_gate.decision.checklists import Catalog, SignOff
from promorang_gate.decision.criteria import Criteria
from promorang_gate.decision.gates import GateChoice
from promorang_gate.decision.signing import sign_text, signing_key
from promorang_gate.decision.verdict import (
    EnvVerdict,
    Judging,
    OutcomeCollector,
    PhaseReport,
    compute_verdict,
)
from promorang_gate.decision.verdict_file import FORMAT, running_marker
from promorang_gate.files import write_atomic
from promorang_gate.identity.deployed import identity_of
from promorang_gate.reporting.checklist_markdown import MarkdownContext, render_markdown
from promorang_gate.reporting.gate_json import RunMeta, render_json, suite_sha, utc_now
from promorang_gate.reporting.junit import DefaultJunit, VerdictCase
from promorang_gate.reporting.terminal import status_label, summary_line, table_lines
from promorang_gate.secrets.redaction import Redactor

if TYPE_CHECKING:  # imported when a run starts its history point, not with the plugin
    from promorang_gate.reporting.allure_history import PendingHistory

__all__ = [
    "FORMAT",
    "GateReporter",
    "RunMeta",
    "phase_report",
    "render_json",
    "render_markdown",
    "running_marker",
    "status_label",
    "summary_line",
    "table_lines",
    "void_previous",
]

# Exit statuses after which no verdict was reached: the files of earlier runs stay as they are.
_NO_VERDICT = (
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.INTERNAL_ERROR,
    pytest.ExitCode.USAGE_ERROR,
)


_NONE_COLLECTED = pytest.ExitCode.NO_TESTS_COLLECTED


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


# pytest words the skip of a ``pytest.skip.Exception`` subclass as ``module.Class: reason``.
_SKIP_CLASS = re.compile(r"^(?:Skipped|(?:[a-z_]\w*\.)+[A-Z]\w*):\s*")


def _skip_message(longrepr: object) -> str | None:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    return _SKIP_CLASS.sub("", text.strip()).strip() or None


def phase_report(
    report: pytest.TestReport, redactor: Redactor, rewritten: str | None = None
) -> PhaseReport:
    """The gate's view of one report; texts redacted (the plugin's reason first)."""
    message: str | None = None
    if report.outcome == "failed":
        message = getattr(report, "gate_reason", None) or _failure_message(report.longrepr)
    elif report.outcome == "skipped":
        message = _skip_message(report.longrepr)
    wasxfail = getattr(report, "wasxfail", None)
    detail = getattr(report, "gate_detail", None)
    return PhaseReport(
        nodeid=report.nodeid,
        when=report.when or "call",
        outcome=report.outcome,
        message=redactor.redact(message) if message else None,
        wasxfail=redactor.redact(str(wasxfail)) if wasxfail is not None else None,
        user_properties=list(report.user_properties),
        detail=redactor.redact(str(detail)) if detail else None,
        rewritten=redactor.redact(rewritten) if rewritten else None,
    )


def void_previous(
    directory: Path, envs: Sequence[str] | None, run_id: str, reason: str
) -> list[Path]:
    """Marks the gate files of earlier runs (of ``envs``, else all) as superseded by a run that
    reached no verdict, so ``promorang-gate verdict`` refuses them; creates nothing else."""
    if not directory.is_dir():
        return []
    names = envs if envs is not None else [p.name[5:-5] for p in directory.glob("gate-*.json")]
    marker = json.dumps({"run_id": run_id, "started_at": utc_now(), "reason": reason})
    marked = []
    for env in names:
        if (directory / f"gate-{env}.json").is_file():
            write_atomic(running_marker(directory, env), marker + "\n")
            marked.append(running_marker(directory, env))
    return marked


class GateReporter:
    """Collects every report on the controller; computes and writes verdicts at session end."""

    def __init__(
        self,
        *,
        env_names: Sequence[str],
        catalog: Catalog,
        gates: Mapping[str, GateChoice],
        criteria: Mapping[str, Criteria],
        signoffs: Mapping[str, Mapping[str, SignOff]],
        signoff_max_age_s: float,
        targets: Any,
        redactor: Redactor,
        reports_dir: Path,
        rootdir: Path,
        run_id: str,
        pytest_args: Sequence[str],
        allure_dir: str | None = None,
        junit: DefaultJunit | None = None,
        environ: Mapping[str, str] | None = None,
        allure_history: Path | None = None,
    ) -> None:
        self.env_names = list(env_names)
        self.catalog = catalog
        self.gates = dict(gates)
        self.criteria = dict(criteria)
        self.signoffs = signoffs
        self.signoff_max_age_s = signoff_max_age_s
        self.targets = targets
        self.redactor = redactor
        self.reports_dir = reports_dir
        self.rootdir = rootdir
        self.run_id = run_id
        self.pytest_args = list(pytest_args)
        self.allure_dir = allure_dir
        self.junit = junit
        #: The Allure history this run appends its point to (allure_history.py); None: none.
        self.allure_history = allure_history
        self.history_note: str | None = None
        self._pending_history: PendingHistory | None = None
        self.environ = dict(os.environ if environ is None else environ)
        self.collector = OutcomeCollector()
        self.meta: RunMeta | None = None
        self._gate_texts: dict[str, str] = {}
        self.started_at = utc_now()
        self.verdicts: list[EnvVerdict] = []
        self.sweeps: dict[str, Any] = {}
        #: Items a failed test claims when the run exits as allowed (all of them non-gating).
        self.non_gating_failed: list[str] = []
        self.written: list[Path] = []
        self._markers: list[Path] = []
        self._new_history: list[Path] = []
        self._created_dir = False
        # Set when an xdist worker found a usage error during collection.
        self.usage_error: str | None = None
        #: (nodeid, when) -> outcome, as the gate's own phase wrappers saw it (observed.py).
        self.observed: dict[tuple[str, str], str] = {}
        self._suspects: list[str] = []

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from promorang_gate.decision.observed import OBSERVED, suspects

        self.started_at = utc_now()
        self.observed = session.config.stash.get(OBSERVED, {})
        self._suspects = suspects(session.config.pluginmanager, self.rootdir)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Tests are about to run: mark each env's verdict as pending until it is written."""
        if session.config.option.collectonly:
            return
        self._created_dir = not self.reports_dir.exists()
        marker = json.dumps({"run_id": self.run_id, "started_at": self.started_at})
        from promorang_gate.cleanup.run_history import record_run

        for env in self.env_names:
            path = running_marker(self.reports_dir, env)
            write_atomic(path, marker + "\n")
            self._markers.append(path)
            # The janitor removes only what a recorded run tagged (run_history.py).
            history = record_run(self.reports_dir, env, self.run_id, self.started_at)
            if self._created_dir:
                self._new_history.append(history)
        self._start_history()

    # Last: the report as every other plugin left it, compared with what the gate saw.
    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from promorang_gate.decision.observed import describe, observed_of, rewritten

        seen = observed_of(report, self.observed)
        why = None
        if rewritten(seen, report):
            saw = {"xfail": "failed", None: "never run"}.get(seen, seen)
            why = (
                f"outcome_rewritten: the gate saw {report.when} {saw}, the report"
                f" says {report.outcome} ({describe(self._suspects)})"
            )
        self.collector.add(phase_report(report, self.redactor, why))

    def compute(self, stopped_early: bool = False) -> list[EnvVerdict]:
        outcomes = self.collector.outcomes()
        now = dt.datetime.now(dt.UTC)
        verdicts = []
        for env in self.env_names:
            choice = self.gates[env]
            judging = Judging(
                now=now,
                signoff_max_age_s=self.signoff_max_age_s,
                rerun=f"pytest --env {env} --gate {choice.gate.name}",
                stopped_early=stopped_early,
                signoff_command=f"promorang-gate signoff {{item}} --env {env} --by NAME",
            )
            verdicts.append(
                compute_verdict(
                    env,
                    self.catalog,
                    outcomes,
                    self.signoffs.get(env, {}),
                    gate=choice.gate.name,
                    required=choice.gate.requires,
                    judging=judging,
                )
            )
        return verdicts

    def _envs_written_to(self) -> list[str]:
        """Envs where a check of an item that writes ran: only they can hold leftovers."""
        writing = {i.id for i in self.catalog.items.values() if i.writes}
        # A writing check that skipped or xfailed may have written before it stopped.
        ran = [o for o in self.collector.outcomes() if o.outcome != "deselected"]
        envs = {o.env for o in ran if writing.intersection(o.item_ids)}
        return [env for env in self.env_names if env in envs or "" in envs]

    def _cleanup_after_interrupt(self) -> None:
        """Ctrl-C/SIGTERM: what the run created goes before the process exits (bounded)."""
        from promorang_gate.cleanup.interrupted import cleanup_after_interrupt
        from promorang_gate.cleanup.leftovers import sweep_leftovers

        # Every env the run reached and may write to: the interrupted check reported nothing.
        envs = [
            env
            for env in self.env_names
            if (target := self.targets.resolved(env)) is not None and target.writes_allowed
        ]
        cleanup_after_interrupt(
            envs,
            lambda: sweep_leftovers(self.targets, envs, self.run_id, self.redactor),
            _RedactedStream(sys.stderr, self.redactor),
        )

    def _not_removed(self) -> dict[str, list[str]]:
        """Env -> what this run created and its end-of-run sweep could not remove."""
        from promorang_gate.cleanup.leftovers import unremoved

        return {env: left for env, result in self.sweeps.items() if (left := unremoved(result))}

    def _remove_markers(self, *, no_verdict: bool = False) -> None:
        for path in self._markers:
            path.unlink(missing_ok=True)
        self._markers = []
        if no_verdict:  # a record this run started holds only this run, which wrote nothing
            for path in self._new_history:
                path.unlink(missing_ok=True)
        if no_verdict and self._created_dir and not any(self.reports_dir.iterdir()):
            self.reports_dir.rmdir()  # nothing half-written: the directory goes too

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        try:
            self._finish_session(session, exitstatus)
        finally:
            if self._pending_history is not None:  # no verdict: no point to append
                self._pending_history.cancel()

    def _finish_session(self, session: pytest.Session, exitstatus: int) -> None:
        if session.config.option.collectonly:
            reason = "a --collect-only run reached no verdict"
            void_previous(self.reports_dir, self.env_names, self.run_id, reason)
            return
        if self.usage_error:
            # Same outcome as without xdist: the message, the usage-error code, no report.
            sys.stderr.write(f"ERROR: {self.redactor.redact(self.usage_error)}\n")
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            self._finish_junit(session.config, reached_verdict=False)
            self._remove_markers(no_verdict=True)
            void_previous(self.reports_dir, self.env_names, self.run_id, "a usage error")
            return
        stopped_early = _stopped_early(session)
        if exitstatus in _NO_VERDICT and not stopped_early:
            self._finish_junit(session.config, reached_verdict=False)
            if exitstatus == pytest.ExitCode.INTERRUPTED:
                self._cleanup_after_interrupt()
            if exitstatus == pytest.ExitCode.USAGE_ERROR:
                self._remove_markers(no_verdict=True)
                void_previous(self.reports_dir, self.env_names, self.run_id, "a usage error")
            return
        from promorang_gate.cleanup.leftovers import sweep_leftovers, unremoved

        swept = self._envs_written_to()
        self.sweeps = sweep_leftovers(self.targets, swept, self.run_id, self.redactor)
        self.verdicts = self.compute(stopped_early=stopped_early)
        self._write(self.verdicts)
        self._finish_junit(session.config, reached_verdict=True)
        self._remove_markers()
        self._write_allure()
        self._append_history()
        self._append_baseline()
        self._write_step_summary()
        blocked = any(v.verdict == "block" for v in self.verdicts)
        blocked = blocked or any(unremoved(r) for r in self.sweeps.values())
        if blocked and session.exitstatus in (pytest.ExitCode.OK, _NONE_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif stopped_early and exitstatus == pytest.ExitCode.INTERRUPTED:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # -x under xdist: a failure
        elif session.exitstatus == pytest.ExitCode.TESTS_FAILED and self._only_non_gating():
            # gating: false is reported, never deciding: an allowed run exits as allowed.
            session.exitstatus = pytest.ExitCode.OK

    def _only_non_gating(self) -> bool:
        """Whether every failed test claims only items that do not gate (and claims one)."""
        gating = {i.id: i.gating for v in self.verdicts for i in v.items}
        failed = [o for o in self.collector.outcomes() if o.outcome == "failed"]
        self.non_gating_failed = sorted({i for o in failed for i in o.item_ids})
        return bool(failed) and all(
            o.item_ids and not any(gating.get(i, True) for i in o.item_ids) for o in failed
        )

    def _write(self, verdicts: Sequence[EnvVerdict]) -> None:
        meta = RunMeta(
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=utc_now(),
            suite_sha=suite_sha(self.rootdir),
            pytest_args=[self.redactor.redact(a) for a in self.pytest_args],
        )
        self.meta = meta
        self.written = []
        for verdict in verdicts:
            env = verdict.environment
            target = self.targets.resolved(env)
            criteria = self.criteria[env]
            gate = self.reports_dir / f"gate-{env}.json"
            extra: dict[str, Any] = {}
            if (identity := identity_of(verdict)) is not None:
                extra["identity"] = identity
            if self.collector.rewritten:
                extra["outcome_rewritten"] = [
                    {"test": nodeid, "reason": why} for nodeid, why in self.collector.rewritten
                ]
            if env in self.sweeps:
                from promorang_gate.cleanup.leftovers import leftovers_json

                extra["leftovers"] = leftovers_json(self.sweeps[env])
            # The CI run that judged: ``verdict --run-id`` (default $GITHUB_RUN_ID) matches it,
            # and in CI without --max-age its attempt too (a re-run is a new attempt).
            extra["ci_run_id"] = self.environ.get("GITHUB_RUN_ID") or None
            extra["ci_run_attempt"] = self.environ.get("GITHUB_RUN_ATTEMPT") or None
            text = self.redactor.redact(
                render_json(verdict, meta, target, self.gates[env], criteria, extra)
            )
            if key := signing_key(self.environ):
                text = sign_text(text, key)
            write_atomic(gate, text)
            self._gate_texts[env] = text
            context = MarkdownContext(
                meta.run_id,
                meta.finished_at,
                meta.suite_sha,
                self.gates[env],
                target,
                self.catalog,
                self._not_removed().get(env, ()),
            )
            md = self.reports_dir / f"checklist-{env}.md"
            write_atomic(md, self.redactor.redact(render_markdown(verdict, criteria, context)))
            self.written += [gate, md]

    def _finish_junit(self, config: pytest.Config, *, reached_verdict: bool) -> None:
        if self.junit is None:
            return
        cases: dict[str, VerdictCase] | None = None
        if reached_verdict:
            left = self._not_removed()
            cases = {
                v.environment: VerdictCase(
                    v.gate,
                    v.verdict,
                    [f"{i.id}: {i.status}: {i.reason}" for i in v.blockers]
                    + [f"not removed: {what}" for what in left.get(v.environment, ())],
                )
                for v in self.verdicts
            }
        self.written += self.junit.finish(cases, self.redactor, config)

    def _write_allure(self) -> None:
        """environment.properties, categories.json, the gate's own results and executor.json,
        when Allure results are on."""
        if not self.allure_dir or self.meta is None:
            return
        from promorang_gate.reporting.allure_results import GateResults, write_gate_results
        from promorang_gate.reporting.allure_support import (
            write_categories,
            write_environment_properties,
        )

        resolved = {n: t for n in self.env_names if (t := self.targets.resolved(n)) is not None}
        write_environment_properties(self.allure_dir, resolved, self.redactor, self.run_id)
        write_categories(self.allure_dir)
        info = GateResults(
            run_id=self.run_id,
            suite_sha=self.meta.suite_sha,
            finished_ms=_epoch_ms(self.meta.finished_at),
            started_ms=_epoch_ms(self.meta.started_at),
            gate_files=self._gate_texts,
            picked_by={env: choice.picked_by for env, choice in self.gates.items()},
            flags={env: criteria.flags for env, criteria in self.criteria.items()},
            not_removed=self._not_removed(),
        )
        write_gate_results(
            self.allure_dir, self.verdicts, self.catalog, info, self.redactor, self.environ
        )

    def _start_history(self) -> None:
        """Node loads Allure while the tests run (allure_history.py): the point is appended at
        the end without waiting for that load."""
        if not self.allure_dir or self.allure_history is None:
            return
        if self._pending_history is not None:  # started already: one script per run
            return
        from promorang_gate.reporting.allure_history import start_history

        results = Path(self.allure_dir)
        results = results if results.is_absolute() else self.rootdir / results
        self._pending_history = start_history(
            self.rootdir, results, self.allure_history, self.run_id, self.environ
        )

    def _append_history(self) -> None:
        if self.meta is None:
            return
        if self._pending_history is None:  # the tests' start was not seen: started now
            self._start_history()
        pending, self._pending_history = self._pending_history, None
        if pending is not None:
            self.history_note = pending.finish()

    def _append_baseline(self) -> None:
        """Each allowed env's figures, the next run's baseline (``reports/history/<env>.jsonl``)."""
        from promorang_gate.decision.baseline import append_history, gate_record, history_path

        at = self.meta.finished_at if self.meta is not None else utc_now()
        for verdict in self.verdicts:
            if (record := gate_record(verdict, self.run_id, at)) is not None:
                path = history_path(self.reports_dir, verdict.environment)
                append_history(path, json.loads(self.redactor.redact(json.dumps(record))))

    def _write_step_summary(self) -> None:
        """The markdown summary GitHub Actions shows on the run's page."""
        from promorang_gate.reporting.ci_summary import (
            STEP_SUMMARY,
            append_step_summary,
            job_url,
            render_step_summary,
        )

        path = self.environ.get(STEP_SUMMARY, "").strip()
        if not path:
            return
        text = render_step_summary(
            self.verdicts,
            {env: criteria.flags for env, criteria in self.criteria.items()},
            run_id=self.run_id,
            files=self.written,
            allure_dir=self.allure_dir,
            ci_url=job_url(self.environ),
            not_removed=self._not_removed(),
        )
        append_step_summary(path, self.redactor.redact(text))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.verdicts:
            return
        terminalreporter.write_sep("=", "promorang-gate")
        for line in table_lines(self.verdicts, self.redactor):
            terminalreporter.write_line(line)
        if self.history_note:
            terminalreporter.write_line(self.history_note)
        if self.non_gating_failed and not any(v.verdict == "block" for v in self.verdicts):
            items = ", ".join(self.non_gating_failed)
            terminalreporter.write_line(f"failed, reported, not gating: {items}", yellow=True)
        for nodeid, why in self.collector.rewritten:
            terminalreporter.write_line(self.redactor.redact(f"{nodeid}: {why}"), red=True)
        for verdict in self.verdicts:
            for flag in self.criteria[verdict.environment].flags:
                terminalreporter.write_line(
                    self.redactor.redact(f"CRITERIA {verdict.environment}: {flag}"), yellow=True
                )
            if verdict.environment in self.sweeps:
                from promorang_gate.cleanup.leftovers import leftover_lines

                for line in leftover_lines(verdict.environment, self.sweeps[verdict.environment]):
                    terminalreporter.write_line(self.redactor.redact(line), yellow=True)
            if verdict.out_of_scope:
                names = ", ".join(i.id for i in verdict.out_of_scope)
                terminalreporter.write_line(
                    f"out of scope of gate {verdict.gate} (not deciding): {names}"
                )
            line = self.redactor.redact(summary_line(verdict))
            terminalreporter.write_line(
                line, bold=True, green=verdict.verdict == "allow", red=verdict.verdict == "block"
            )
        for path in self.written:
            if path.suffix == ".json":
                terminalreporter.write_line(f"gate file: {path}")


class _RedactedStream:
    def __init__(self, stream: Any, redactor: Redactor) -> None:
        self.stream, self.redactor = stream, redactor

    def write(self, text: str) -> int:
        return int(self.stream.write(self.redactor.redact(text)))

    def flush(self) -> None:
        self.stream.flush()


def _epoch_ms(stamp: str) -> int:
    return round(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _stopped_early(session: pytest.Session) -> bool:
    """-x/--maxfail ended the run: a verdict is reached (xdist reports it as an interruption)."""
    if session.shouldstop or session.shouldfail:
        return True
    dsession = session.config.pluginmanager.getplugin("dsession")
    reason = getattr(dsession, "shouldstop", None)
    return isinstance(reason, str) and reason.startswith("stopping after")
