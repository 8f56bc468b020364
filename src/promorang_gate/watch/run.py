"""The watch loop: probe and read every interval, judge every item, stop on a breach (or after
``--failure-limit`` breaching intervals in a row), on Ctrl-C/SIGTERM (within 2 s) or when the
duration is over; then write what was measured.

Exit codes (``Exit``): 0 allow (every gating item passed), 1 breach, 2 usage mistake,
3 not verified (no breach, but a gating item lacked data or samples), 130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from promorang_gate.decision.checklists import WATCH, load_catalog
from promorang_gate.decision.gates import checklists_digest, choose_gate, load_gates
from promorang_gate.errors import ConfigError
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.watch.baseline import WATCH as WATCH_KIND
from promorang_gate.watch.baseline import (
    append_history,
    figures,
    history_path,
    last_allowed,
)
from promorang_gate.watch.items import (
    REAL_ERROR_RATE,
    ItemState,
    WatchSpec,
    judge,
    watch_specs,
)
from promorang_gate.watch.measures import (
    ConnectionsReader,
    Database,
    PrometheusReader,
    Reading,
    StorageReader,
    WebhookReader,
)
from promorang_gate.watch.output import (
    RUNBOOK,
    rollback_commands,
    step_summary,
    write_allure,
    write_report,
)
from promorang_gate.watch.probes import Prober, ProbeResult
from promorang_gate.watch.progress import Progress, progress_line
from promorang_gate.watch.target import WatchedEnv, resolve_watched
from promorang_gate.watch.windows import Interval, Series

__all__ = ["Exit", "WatchOptions", "run_watch"]

#: How often the loop looks up from a slow interval to see whether it was told to stop.
POLL_S = 0.1
PROBES_SOURCE = "the watch's own probe requests (no Prometheus endpoint declared)"
PROMETHEUS_SOURCE = "real traffic (Prometheus: {query}), and the watch's probe requests"


class Exit(enum.IntEnum):
    ALLOW = 0
    BREACH = 1
    USAGE = 2
    NOT_VERIFIED = 3
    INTERRUPTED = 130


@dataclass(frozen=True)
class WatchOptions:
    env: str
    duration_s: float
    interval_s: float = 30.0
    gate: str | None = None
    failure_limit: int = 1
    rootdir: Path = Path()
    checklists: Path | None = None
    reports: Path | None = None
    sandbox_state: str | None = None


class _Stop:
    """Set by SIGINT/SIGTERM: the loop and every wait end within POLL_S.

    The handler only assigns. It runs in the main thread between two bytecodes, which can be
    inside ``threading.Event.wait`` while it holds the Event's lock: an ``Event.set()`` there
    waits for that lock forever (a watch hung after SIGINT that way in a test run)."""

    def __init__(self) -> None:
        self.signal: str | None = None
        #: An interval still measuring when the watch stopped (its clients stay open for it).
        self.inflight: threading.Thread | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signal.Signals(signum).name

    def is_set(self) -> bool:
        return self.signal is not None

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or until a stop (looked at every POLL_S)."""
        until = time.monotonic() + seconds
        while not self.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_S, left))


def _readers(
    specs: list[WatchSpec], watched: WatchedEnv, db: Database, redactor: Redactor
) -> dict[str, Callable[[], Reading]]:
    readers: dict[str, Callable[[], Reading]] = {}
    declared = _prometheus(watched)
    for spec in specs:
        if spec.measure == "error_rate" and declared:
            readers[REAL_ERROR_RATE] = PrometheusReader(watched.target, *declared, redactor).read
        elif spec.measure == "connections":
            readers["connections"] = ConnectionsReader(db, redactor).read
        elif spec.measure == "storage_quota":
            quota = int(watched.value("storage_quota_bytes", 0))  # type: ignore[call-overload]
            source = watched.source("storage_quota_bytes")
            readers["storage_quota"] = StorageReader(db, quota, source).read
        elif spec.measure == "webhook_failures":
            table = str(watched.value("webhook_deliveries_table", "") or "")
            readers["webhook_failures"] = WebhookReader(db, table, spec.window_s).read
    return readers


def _prometheus(watched: WatchedEnv) -> tuple[str, str] | None:
    """(URL, PromQL) of real traffic's error ratio, when the env declares both."""
    url = str(watched.value("prometheus_url", "") or "")
    query = str(watched.value("error_rate_query", "") or "")
    if not url:
        return None
    env = watched.target.name.upper().replace("-", "_")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"GATE_{env}_PROMETHEUS_URL {url!r}: expected an http(s) URL")
    if not query:
        raise ConfigError(
            f"GATE_{env}_PROMETHEUS_URL is set but no error_rate_query: give the PromQL of the"
            f" API's error ratio (error_rate_query in the profile or GATE_{env}_ERROR_RATE_QUERY)"
        )
    return url, query


def error_rate_source(watched: WatchedEnv) -> str:
    declared = _prometheus(watched)
    return PROMETHEUS_SOURCE.format(query=declared[1]) if declared else PROBES_SOURCE


def _measure(
    prober: Prober, readers: Mapping[str, Callable[[], Reading]], stop: _Stop
) -> tuple[list[ProbeResult], dict[str, Reading]] | None:
    """One interval's probes and readings, in a thread the loop need not wait for."""
    box: list[tuple[list[ProbeResult], dict[str, Reading]]] = []

    def work() -> None:
        probes = prober.run()
        box.append((probes, {name: read() for name, read in readers.items()}))

    worker = threading.Thread(target=work, name="watch-interval", daemon=True)
    worker.start()
    while worker.is_alive() and not stop.is_set():
        worker.join(POLL_S)
    stop.inflight = worker if worker.is_alive() else None
    return box[0] if box else None


def _choose(options: WatchOptions, catalog: Any) -> tuple[str, list[WatchSpec]]:
    gates = load_gates(catalog)
    if options.gate is None and WATCH not in gates:
        raise ConfigError(f"no gate '{WATCH}' in {catalog.directory}/gates.yaml (give --gate)")
    choice = choose_gate(
        gates,
        option=options.gate or WATCH,
        markexpr="",
        profile_gate=WATCH,
        env=options.env,
        judge=WATCH,
    )
    return choice.gate.name, watch_specs(catalog, choice.gate.requires)


def run_watch(
    options: WatchOptions,
    *,
    out: IO[str],
    environ: Mapping[str, str] | None = None,
    install_signals: bool = True,
) -> int:
    environ = os.environ if environ is None else environ
    if options.duration_s <= 0 or options.interval_s <= 0:
        raise ConfigError("--for and --interval must be longer than 0 s")
    if options.failure_limit < 1:
        raise ConfigError("--failure-limit must be 1 or more (breaching intervals in a row)")
    checklists = options.checklists or options.rootdir / "checklists"
    catalog = load_catalog(checklists)
    gate, specs = _choose(options, catalog)
    redactor = Redactor()
    watched = resolve_watched(
        options.env, options.rootdir, redactor, sandbox_state=options.sandbox_state, environ=environ
    )
    reports = options.reports or options.rootdir / "reports"
    run = _Run(options, gate, specs, watched, redactor, out, environ, checklists, reports)
    previous = {}
    if install_signals and threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, run.stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _loop(run)
        return _finish(run)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        watched.close()


@dataclass
class _Run:
    """One watch: what it was asked, and what it measured."""

    options: WatchOptions
    gate: str
    specs: list[WatchSpec]
    watched: WatchedEnv
    redactor: Redactor
    out: IO[str]
    environ: Mapping[str, str]
    checklists: Path
    reports: Path
    stop: _Stop = field(default_factory=_Stop)
    series: Series = field(default_factory=Series)
    states: list[ItemState] = field(default_factory=list)
    stopped_by: str = "duration"
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    elapsed_s: float = 0.0

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def _loop(run: _Run) -> None:
    options = run.options
    prober = Prober(run.watched.target, run.redactor)
    db = Database(run.watched.target, run.redactor)
    readers = _readers(run.specs, run.watched, db, run.redactor)
    run.states = [ItemState(spec, options.failure_limit) for spec in run.specs]
    baseline = last_allowed(history_path(run.reports, options.env), options.env, run.gate)
    progress = Progress(run.out)
    run.say(
        f"watch {options.env}: gate {run.gate}, {len(run.specs)} items, every"
        f" {options.interval_s:g} s for {options.duration_s:g} s; error rate from"
        f" {error_rate_source(run.watched)}"
    )
    try:
        prober.discover_content()
        index = 0
        while not run.stop.is_set():
            began = prober.elapsed()
            measured = _measure(prober, readers, run.stop)
            if measured is None:
                break
            run.series.add(Interval(index, began, prober.elapsed(), *measured))
            for state in run.states:
                state.add(judge(state.spec, run.series, baseline))
            elapsed, requests = prober.elapsed(), run.series.requests
            progress.update(progress_line(elapsed, options.duration_s, requests, run.states))
            if any(s.failed_at is not None for s in run.states):
                run.stopped_by = "breach"
                break
            index += 1
            # Intervals start on their schedule; one slower than the interval delays the next.
            next_at = max(index * options.interval_s, prober.elapsed())
            if next_at >= options.duration_s:
                break
            run.stop.wait(next_at - prober.elapsed())
    finally:
        progress.close()
        run.stopped_by = run.stop.signal or run.stopped_by
        run.finished_at = dt.datetime.now(dt.UTC)
        run.elapsed_s = prober.elapsed()
        if run.stop.inflight is None:  # else the daemon thread ends with the process
            prober.close()
            db.close()


def _verdict(states: list[ItemState], stopped_by: str) -> tuple[str, Exit]:
    if stopped_by.startswith("SIG"):
        return "interrupted", Exit.INTERRUPTED
    outcomes = [(s.spec.gating, s.outcome()[0]) for s in states]
    if any(status == "failed" for _, status in outcomes):
        return "block", Exit.BREACH
    if all(status == "passed" for gating, status in outcomes if gating):
        return "allow", Exit.ALLOW
    return "block", Exit.NOT_VERIFIED


def _row(state: ItemState) -> dict[str, Any]:
    status, reason = state.outcome()
    return {
        "id": state.spec.item_id,
        "text": state.spec.text,
        "measure": state.spec.measure,
        "gating": state.spec.gating,
        "status": status,
        "reason": reason,
        "intervals_without_data": sum(j.state == "no_data" for j in state.judgements),
        "judgements": [j.to_json() for j in state.judgements],
    }


def _stamp(moment: dt.datetime | None) -> str:
    return (moment or dt.datetime.now(dt.UTC)).isoformat().replace("+00:00", "Z")


def _report(run: _Run, verdict: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``watch-<env>.json``: samples (every interval's requests and readings), windows, verdict."""
    options, states = run.options, run.states
    return {
        "kind": "watch",
        "env": options.env,
        "gate": run.gate,
        "verdict": verdict,
        "stopped_by": run.stopped_by,
        "started_at": _stamp(run.started_at),
        "finished_at": _stamp(run.finished_at),
        "duration_s": options.duration_s,
        "elapsed_s": round(run.elapsed_s, 3),
        "interval_s": options.interval_s,
        "failure_limit": options.failure_limit,
        "error_rate_source": error_rate_source(run.watched),
        "checklists_digest": checklists_digest(run.checklists),
        "requests": run.series.requests,
        "items": rows,
        "windows": {s.spec.item_id: run.series.window(s.spec.window_s).to_json() for s in states},
        "intervals": [i.to_json() for i in run.series.intervals],
    }


def _print_outcome(run: _Run, code: Exit, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row["status"] == "failed":
            run.say(f"BREACH {row['id']}: {row['reason']}")
    if code == Exit.BREACH:
        run.say(f"Roll back ({RUNBOOK}):")
        for command in rollback_commands(run.watched.target):
            run.say(f"  {command}")
    for row in rows:
        if row["status"] == "not_verified" or (row["status"] == "passed" and row["reason"]):
            run.say(f"ITEM {row['id']}: {str(row['status']).replace('_', ' ')}: {row['reason']}")


def _finish(run: _Run) -> int:
    """Print the outcome; write the watch file, the Allure results, the history and summary."""
    verdict, code = _verdict(run.states, run.stopped_by)
    rows = [_row(state) for state in run.states]
    _print_outcome(run, code, rows)
    data = _report(run, verdict, rows)
    env = run.options.env
    path = run.reports / f"watch-{env}.json"
    write_report(path, data, run.redactor)
    started, finished = (
        int(m.timestamp() * 1000) for m in (run.started_at, run.finished_at or run.started_at)
    )
    write_allure(
        run.reports / "allure-results",
        env,
        run.states,
        run.series,
        verdict,
        started,
        finished,
        run.redactor,
    )
    if verdict == "allow":
        record = {"kind": WATCH_KIND, "at": data["finished_at"], "env": env, "gate": run.gate}
        record["verdict"] = verdict
        append_history(history_path(run.reports, env), record | {"probes": figures(run.series)})
    summary = run.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from promorang_gate.reporting.ci_summary import append_step_summary

        append_step_summary(summary, step_summary(env, verdict, rows))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("passed", "failed", "not_verified")}
    shown = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items())
    run.say(
        f"WATCH {env}: {verdict.upper()} (gate {run.gate}: {shown}; {run.series.requests}"
        f" requests in {run.elapsed_s:.1f} s, stopped by {run.stopped_by})"
    )
    run.say(f"watch file: {path}")
    return int(code)
