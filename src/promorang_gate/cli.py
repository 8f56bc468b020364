"""``promorang-gate``: ``verdict`` re-reads a gate file for a decision, ``signoff`` records a
manual item's sign-off, ``janitor`` removes what killed runs left, ``report`` renders the Allure
report.

Exit codes of ``verdict``: see ``verdict_file.Exit`` (0 allow, 1 block, 2 usage, 3 missing,
4 malformed, 5 stale, 6 other gate or criteria, 7 another build); of ``janitor``: 0 clean,
1 something left, 2 refused or a usage mistake, 3 unreachable, 4 key rejected, 5 bucket missing,
6 stopped midway
(``janitor.EXIT_CODES``); of ``report``: ``report_render.Exit`` (0 rendered, 2 usage, 3 no
results, 4 no Node.js/npm, 5 failed); of ``watch``: ``watch.run.Exit`` (0 allow, 1 breach,
2 usage, 3 not verified, 130 interrupted). Every error is one redacted line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from promorang_gate.durations import parse_duration
from promorang_gate.errors import ConfigError, GateError
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import SECRET_KEYS
from promorang_gate.target.validation import BadText

__all__ = ["main"]

DEFAULT_MAX_AGE = "1h"
RESULTS = "reports/allure-results"
REPORT = "reports/allure-report"


def _profile_gate(env: str, rootdir: Path) -> str:
    from promorang_gate.target.environments import SETTINGS, known_environments, load_profiles

    project = rootdir / "environments"
    if env not in known_environments(project):
        known = ", ".join(known_environments(project))
        raise ConfigError(f"--env {env!r}: unknown environment; known environments are {known}")
    variable = f"GATE_{env.upper().replace('-', '_')}_GATE"
    default = load_profiles(project)[env].values.get("gate", SETTINGS["gate"][1])
    return os.environ.get(variable) or str(default)


def _verdict(args: argparse.Namespace) -> int:
    from promorang_gate.decision.signing import signing_key
    from promorang_gate.decision.verdict_file import Refused, check_gate_file

    rootdir = Path(args.rootdir)
    checklists = Path(args.checklists) if args.checklists else rootdir / "checklists"
    if not checklists.is_dir():
        raise ConfigError(
            f"no checklists directory at {checklists}: the file's criteria are checked against"
            " it (give --checklists DIR)"
        )
    gate = args.gate or _profile_gate(args.env, rootdir)
    max_age_s = parse_duration(args.max_age or DEFAULT_MAX_AGE, "--max-age")
    run_id, attempt = _run_to_match(args, os.environ)
    if _judged_by_watch(gate, checklists):
        return _watch_verdict(args, gate, checklists, max_age_s)
    if args.no_cli_signoffs:
        signed = _cli_signoffs(Path(args.directory), args.env)
        if signed:
            print(
                f"promorang-gate: refused: {', '.join(signed)} signed on the command line"
                " (--signoff): --no-cli-signoffs counts only sign-offs committed in"
                f" checklists/signoffs/{args.env}.yaml (`promorang-gate signoff`)",
                file=sys.stderr,
            )
            return 6
    try:
        gate_file = check_gate_file(
            Path(args.directory),
            args.env,
            gate,
            checklists=checklists,
            max_age_s=max_age_s,
            accept_flags=args.accept_flags,
            expect_commit=args.expect_commit,
            run_id=run_id,
            run_attempt=attempt,
            signing_key=signing_key(os.environ),
            criteria_from=(args.criteria_from, rootdir / "environments")
            if args.criteria_from
            else None,
        )
    except Refused as refused:
        print(f"promorang-gate: refused: {refused}", file=sys.stderr)
        return int(refused.code)
    data = gate_file.data
    for flag in data.get("flags") or []:
        print(f"CRITERIA {args.env}: {flag}")
    for item in gate_file.blockers:
        print(f"BLOCKER {item['id']}: {item['status'].replace('_', ' ')}: {item.get('reason')}")
    for leftover in gate_file.not_removed:
        print(f"LEFTOVER not removed: {leftover}")
    counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in (data.get("counts") or {}).items())
    print(
        f"GATE {args.env}: {data['verdict'].upper()} (gate {gate}: {counts})"
        f" run {data.get('run_id')} finished {data.get('finished_at')}"
    )
    return 0 if data["verdict"] == "allow" and not gate_file.not_removed else 1


def _run_to_match(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(run id, attempt) the file must have been written by. In CI (``GITHUB_ACTIONS=true``)
    without --max-age, freshness is this workflow run: its id and its attempt (a re-run must
    not pass on an earlier attempt's file). Elsewhere, or with --max-age: --run-id, default
    $GITHUB_RUN_ID, and the age."""
    ci_run = environ.get("GITHUB_RUN_ID") or None
    run_id = args.run_id or ci_run
    this_run = environ.get("GITHUB_ACTIONS") == "true" and args.max_age is None
    if this_run and ci_run is not None and run_id == ci_run:
        return run_id, environ.get("GITHUB_RUN_ATTEMPT") or "1"
    return run_id, None


def _judged_by_watch(gate: str, checklists: Path) -> bool:
    from promorang_gate.decision.checklists import WATCH, load_catalog
    from promorang_gate.decision.gates import load_gates

    found = load_gates(load_catalog(checklists)).get(gate)
    return found is not None and found.judged_by == WATCH


def _watch_verdict(args: argparse.Namespace, gate: str, checklists: Path, max_age: float) -> int:
    """A watch file: fresh, as shipped, consistent; 0 only for its allow."""
    from promorang_gate.decision.verdict_file import Refused
    from promorang_gate.watch.replay import check_watch_file

    try:
        data = check_watch_file(
            Path(args.directory), args.env, gate, checklists=checklists, max_age_s=max_age
        )
    except Refused as refused:
        print(f"promorang-gate: refused: {refused}", file=sys.stderr)
        return int(refused.code)
    for item in data["items"]:
        if item["status"] != "passed" and item.get("gating", True):
            print(f"BLOCKER {item['id']}: {item['status'].replace('_', ' ')}: {item.get('reason')}")
    print(
        f"WATCH {args.env}: {data['verdict'].upper()} (gate {gate}, {data.get('duration_s')} s"
        f" every {data.get('interval_s')} s, stopped by {data.get('stopped_by')})"
        f" finished {data.get('finished_at')}"
    )
    return 0 if data["verdict"] == "allow" else 1


def _cli_signoffs(directory: Path, env: str) -> list[str]:
    """Items of the gate file signed with ``--signoff`` (none when the file cannot be read:
    the verdict's own checks say why)."""
    import json

    try:
        data = json.loads((directory / f"gate-{env}.json").read_text(encoding="utf-8"))
        signed = data["criteria"].get("cli_signoffs") or []
        return [str(entry["item"]) for entry in signed]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _signoff(args: argparse.Namespace) -> int:
    from promorang_gate.decision.checklists import SignOff, load_catalog, record_signoff
    from promorang_gate.target.validation import TEXT_LIMITS, check_text

    rootdir = Path(args.rootdir)
    _profile_gate(args.env, rootdir)  # the env must exist
    checklists = Path(args.checklists) if args.checklists else rootdir / "checklists"
    catalog = load_catalog(checklists)
    if not catalog.checklists:
        raise ConfigError(f"no checklists in {checklists} (give --checklists DIR)")
    if not args.by.strip():
        raise ConfigError("--by: say who signs off (a name or handle)")
    redactor = _redactor()
    for flag in ("by", "note", "deployment"):
        value = getattr(args, flag) or ""
        check_text(value.strip(), f"--{flag}", TEXT_LIMITS[flag])  # BadText: exit 4
        if redactor.redact(value) != value:
            # The file is committed with the release: a secret must never get into it.
            raise ConfigError(f"--{flag}: the text holds a secret; leave it out of the sign-off")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signoff = SignOff(
        item=args.item,
        by=args.by.strip(),
        at=now.isoformat().replace("+00:00", "Z"),
        env=args.env,
        note=(args.note or "").strip(),
        deployment=(args.deployment or "").strip(),
    )
    path = record_signoff(catalog, signoff)
    print(f"signed off {signoff.item} for {signoff.env}: {signoff.describe()} -> {path}")
    return 0


def _janitor(args: argparse.Namespace) -> int:
    from promorang_gate.target.environments import resolve_targets
    from promorang_gate.target.sandbox_target import state_file_from

    older_than_s = parse_duration(args.older_than, "--older-than")
    state = None
    state_file = state_file_from(args.sandbox_state, os.environ)
    if args.env == "sandbox":
        if state_file is None:
            raise ConfigError(
                "janitor --env sandbox needs a running sandbox:"
                " give --sandbox-state PATH or set PROMORANG_SANDBOX_STATE"
            )
        from promorang_gate.target.sandbox_target import load_state_file

        state = load_state_file(state_file)
    rootdir = Path(args.rootdir)
    targets = resolve_targets(
        [args.env],
        os.environ,
        {},
        rootdir,
        environments_dir=rootdir / "environments",
        sandbox_state=state,
    )
    from promorang_gate.cleanup.janitor import run_janitor
    from promorang_gate.cleanup.run_history import recorded_runs

    reports = Path(args.reports) if args.reports else rootdir / "reports"
    recorded = recorded_runs(reports, args.env)
    return run_janitor(targets[args.env], older_than_s, sys.stdout, recorded=recorded)


def _watch(args: argparse.Namespace) -> int:
    from promorang_gate.watch.run import WatchOptions, run_watch

    options = WatchOptions(
        env=args.env,
        duration_s=parse_duration(args.duration, "--for"),
        interval_s=parse_duration(args.interval, "--interval"),
        gate=args.gate,
        failure_limit=args.failure_limit,
        rootdir=Path(args.rootdir),
        checklists=Path(args.checklists) if args.checklists else None,
        reports=Path(args.reports) if args.reports else None,
        sandbox_state=args.sandbox_state,
    )
    try:
        return run_watch(options, out=sys.stdout)
    except ConfigError:
        raise
    except GateError as exc:  # the sandbox would not start: nothing could be watched
        print(f"promorang-gate: watch: {_redactor().one_line(exc, 2000)}", file=sys.stderr)
        return 3


def _check_config(args: argparse.Namespace) -> int:
    from promorang_gate.check_config import EXIT_PROBLEM, check_config

    try:
        return check_config(args.env, Path(args.rootdir), app_repos=args.app_repo)
    except ConfigError as exc:
        message = _redactor().one_line(exc, 2000)
        print(f"promorang-gate: check-config: {message}", file=sys.stderr)
        return EXIT_PROBLEM


def _note(message: str) -> None:
    print(f"promorang-gate: {message}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from promorang_gate.reporting.report_render import (
        RenderFailed,
        ReportJob,
        open_report,
        render_report,
    )

    rootdir = Path(args.rootdir).resolve()
    job = ReportJob(
        rootdir=rootdir,
        results=Path(args.results).resolve() if args.results else rootdir / RESULTS,
        output=Path(args.output).resolve() if args.output else rootdir / REPORT,
        history=Path(args.history).resolve() if args.history else None,
        single_file=not args.multi_file,
    )
    try:
        index = render_report(job, os.environ, notify=_note)
    except RenderFailed as failed:
        print(f"promorang-gate: report: {failed}", file=sys.stderr)
        return int(failed.code)
    print(f"report: {index}")
    return open_report(job, os.environ) if args.open else 0


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line (no usage block), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="promorang-gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    verdict = sub.add_parser(
        "verdict", help="exit 0 only for a fresh allow of ENV's gate in DIR's gate file"
    )
    verdict.add_argument("directory", metavar="DIR", help="the gate reports directory")
    verdict.add_argument("--env", required=True, metavar="NAME", help="the environment judged")
    verdict.add_argument(
        "--gate", metavar="NAME", help="the gate it must have been judged by (default: profile's)"
    )
    verdict.add_argument(
        "--max-age",
        default=None,
        metavar="DURATION",
        help=f"refuse a verdict older than this (default {DEFAULT_MAX_AGE}; in CI,"
        " GITHUB_ACTIONS=true, also only a file this workflow run wrote: its"
        " $GITHUB_RUN_ID and $GITHUB_RUN_ATTEMPT)",
    )
    verdict.add_argument(
        "--accept-flags",
        action="store_true",
        help="accept a verdict judged with criteria not as shipped (flagged in its file)",
    )
    verdict.add_argument(
        "--no-cli-signoffs",
        action="store_true",
        help="refuse (exit 6) a verdict whose manual items were signed with pytest --signoff:"
        " only sign-offs committed in checklists/signoffs/<env>.yaml count (what CI uses)",
    )
    verdict.add_argument(
        "--checklists",
        metavar="DIR",
        help="the repository's checklists (default ROOTDIR/checklists)",
    )
    verdict.add_argument(
        "--expect-commit",
        metavar="SHA",
        help="refuse (exit 7) a file made for another build than this commit",
    )
    verdict.add_argument(
        "--criteria-from",
        metavar="REF",
        help="refuse a verdict judged with checklists, gates or profiles other than at this git"
        " ref (the protected branch, e.g. origin/main)",
    )
    verdict.add_argument(
        "--run-id",
        metavar="ID",
        help="refuse a file another run wrote: the gate's run id or the CI run id it recorded"
        " (default $GITHUB_RUN_ID); with $GATE_SIGNING_KEY set, an unsigned file is refused",
    )
    signoff = sub.add_parser("signoff", help="record a sign-off of a manual checklist item")
    signoff.add_argument("item", metavar="ITEM", help="the item id, e.g. growth_hub.frontend_copy")
    signoff.add_argument("--env", required=True, metavar="NAME", help="the environment signed for")
    signoff.add_argument("--by", required=True, metavar="NAME", help="who signs off")
    signoff.add_argument("--note", metavar="TEXT", help="what was checked, where the evidence is")
    signoff.add_argument(
        "--deployment", metavar="TEXT", help="the deployment it was given for (URL, commit)"
    )
    signoff.add_argument("--checklists", metavar="DIR", help="default ROOTDIR/checklists")
    janitor = sub.add_parser("janitor", help="remove test data the gate left behind")
    janitor.add_argument("--env", required=True, metavar="NAME", help="environment to clean")
    janitor.add_argument(
        "--older-than", default="1h", metavar="DURATION", help="e.g. 30m, 2h, 3600 (default 1h)"
    )
    janitor.add_argument(
        "--sandbox-state", metavar="PATH", help="state file of a running sandbox (--env sandbox)"
    )
    janitor.add_argument(
        "--reports",
        metavar="DIR",
        help="the gate reports directory holding the record of runs; only what a recorded run"
        " tagged is removed (default ROOTDIR/reports)",
    )
    report = sub.add_parser(
        "report", help=f"render the Allure results ({RESULTS}) to {REPORT} with Allure 3"
    )
    report.add_argument("--results", metavar="DIR", help=f"default ROOTDIR/{RESULTS}")
    report.add_argument("--output", metavar="DIR", help=f"default ROOTDIR/{REPORT}")
    report.add_argument(
        "--history",
        metavar="FILE",
        help="history kept across runs for the Trend (default ROOTDIR/reports/history.jsonl)",
    )
    report.add_argument(
        "--single-file",
        action="store_true",
        help="one self-contained index.html that opens from disk (the default)",
    )
    report.add_argument(
        "--multi-file",
        action="store_true",
        help="a site of several files instead (open it with --open: from disk it cannot load)",
    )
    report.add_argument(
        "--open", action="store_true", help="then serve it and open a browser (Ctrl-C stops)"
    )
    watch = sub.add_parser(
        "watch", help="after promotion: measure section 6's thresholds on ENV every interval"
    )
    watch.add_argument("--env", required=True, metavar="NAME", help="the environment watched")
    watch.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="e.g. 30m, 10s"
    )
    watch.add_argument(
        "--interval", default="30s", metavar="DURATION", help="between probes (default 30s)"
    )
    watch.add_argument("--gate", metavar="NAME", help="a gate judged by the watch (default watch)")
    watch.add_argument(
        "--failure-limit",
        type=int,
        default=1,
        metavar="N",
        help="stop after N breaching intervals in a row (default 1: at once)",
    )
    watch.add_argument("--checklists", metavar="DIR", help="default ROOTDIR/checklists")
    watch.add_argument("--reports", metavar="DIR", help="default ROOTDIR/reports")
    watch.add_argument(
        "--sandbox-state", metavar="PATH", help="state file of a running sandbox (--env sandbox)"
    )
    check = sub.add_parser(
        "check-config",
        help="check the settings, hosts and credentials of ENV(s) without running any test",
        description="Everything `pytest --env NAME` checks before its first test: settings"
        " resolved (no placeholder URL, no missing secret), hosts reachable, the service-role"
        " key, user tokens and database URL accepted by the target. Exit 0 when all are good,"
        " 4 (like the gate's usage error) with one line naming the variable to fix.",
        epilog="example: promorang-gate check-config --env staging,prod",
    )
    check.add_argument(
        "--env",
        required=True,
        action="append",
        metavar="NAME",
        help="environment(s), repeatable or comma separated, e.g. staging,prod",
    )
    check.add_argument(
        "--app-repo",
        action="append",
        metavar="[ENV=]PATH",
        help="checkout of the application being released (default: $GATE_<ENV>_APP_REPO)",
    )
    for command in (verdict, signoff, janitor, report, watch, check):
        command.add_argument(
            "--rootdir",
            default=".",
            metavar="DIR",
            help="project root (checklists/, environments/)",
        )
    from promorang_gate.cli_help import apply_help

    return apply_help(parser)


def _redactor() -> Redactor:
    """Every secret variable that is set (the janitor's target is not resolved yet)."""
    suffixes = tuple(f"_{key.upper()}" for key in SECRET_KEYS)
    return Redactor(
        v for k, v in os.environ.items() if k.startswith("GATE_") and k.endswith(suffixes)
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "verdict":
            return _verdict(args)
        if args.command == "signoff":
            return _signoff(args)
        if args.command == "report":
            return _report(args)
        if args.command == "watch":
            return _watch(args)
        if args.command == "check-config":
            return _check_config(args)
        return _janitor(args)
    except BadText as exc:  # free text that is not one printable line: a bad input
        print(f"promorang-gate: error: {_redactor().one_line(exc, 2000)}", file=sys.stderr)
        return 4
    except ConfigError as exc:
        print(f"promorang-gate: error: {_redactor().one_line(exc, 2000)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command had to read or write
        print(f"promorang-gate: error: {_redactor().one_line(exc, 2000)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
