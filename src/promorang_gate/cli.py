"""``promorang-gate``: ``verdict`` re-reads a gate file for a decision, ``signoff`` records a
manual item's sign-off, ``janitor`` removes what killed runs left, ``report`` renders the Allure
report.

Exit codes of ``verdict``: see ``verdict_file.Exit`` (0 allow, 1 block, 2 usage, 3 missing,
4 malformed, 5 stale, 6 other gate or criteria); of ``janitor``: 0 clean, 1 something left,
2 refused or a usage mistake, 3 unreachable, 4 key rejected, 5 bucket missing, 6 stopped midway
(``janitor.EXIT_CODES``); of ``report``: ``report_render.Exit`` (0 rendered, 2 usage, 3 no
results, 4 no Node.js/npm, 5 failed). Every error is one redacted line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from promorang_gate.durations import parse_duration
from promorang_gate.environments import SECRET_KEYS
from promorang_gate.errors import ConfigError
from promorang_gate.redaction import Redactor
from promorang_gate.validation import BadText

__all__ = ["main"]

DEFAULT_MAX_AGE = "1h"
RESULTS = "reports/allure-results"
REPORT = "reports/allure-report"


def _profile_gate(env: str, rootdir: Path) -> str:
    from promorang_gate.environments import SETTINGS, known_environments, load_profiles

    project = rootdir / "environments"
    if env not in known_environments(project):
        known = ", ".join(known_environments(project))
        raise ConfigError(f"--env {env!r}: unknown environment; known environments are {known}")
    variable = f"GATE_{env.upper().replace('-', '_')}_GATE"
    default = load_profiles(project)[env].values.get("gate", SETTINGS["gate"][1])
    return os.environ.get(variable) or str(default)


def _verdict(args: argparse.Namespace) -> int:
    from promorang_gate.signing import signing_key
    from promorang_gate.verdict_file import Refused, check_gate_file

    rootdir = Path(args.rootdir)
    checklists = Path(args.checklists) if args.checklists else rootdir / "checklists"
    if not checklists.is_dir():
        raise ConfigError(
            f"no checklists directory at {checklists}: the file's criteria are checked against"
            " it (give --checklists DIR)"
        )
    gate = args.gate or _profile_gate(args.env, rootdir)
    max_age_s = parse_duration(args.max_age, "--max-age")
    try:
        gate_file = check_gate_file(
            Path(args.directory),
            args.env,
            gate,
            checklists=checklists,
            max_age_s=max_age_s,
            accept_flags=args.accept_flags,
            run_id=args.run_id or os.environ.get("GITHUB_RUN_ID") or None,
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


def _signoff(args: argparse.Namespace) -> int:
    from promorang_gate.checklists import SignOff, load_catalog, record_signoff
    from promorang_gate.validation import TEXT_LIMITS, check_text

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
    from promorang_gate.environments import resolve_targets
    from promorang_gate.sandbox_target import state_file_from

    older_than_s = parse_duration(args.older_than, "--older-than")
    state = None
    state_file = state_file_from(args.sandbox_state, os.environ)
    if args.env == "sandbox":
        if state_file is None:
            raise ConfigError(
                "janitor --env sandbox needs a running sandbox:"
                " give --sandbox-state PATH or set PROMORANG_SANDBOX_STATE"
            )
        from promorang_gate.sandbox_target import load_state_file

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
    from promorang_gate.janitor import run_janitor
    from promorang_gate.run_history import recorded_runs

    reports = Path(args.reports) if args.reports else rootdir / "reports"
    recorded = recorded_runs(reports, args.env)
    return run_janitor(targets[args.env], older_than_s, sys.stdout, recorded=recorded)


def _note(message: str) -> None:
    print(f"promorang-gate: {message}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from promorang_gate.report_render import RenderFailed, ReportJob, open_report, render_report

    rootdir = Path(args.rootdir).resolve()
    job = ReportJob(
        rootdir=rootdir,
        results=Path(args.results).resolve() if args.results else rootdir / RESULTS,
        output=Path(args.output).resolve() if args.output else rootdir / REPORT,
        history=Path(args.history).resolve() if args.history else None,
        single_file=args.single_file,
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
        default=DEFAULT_MAX_AGE,
        metavar="DURATION",
        help=f"refuse a verdict older than this (default {DEFAULT_MAX_AGE})",
    )
    verdict.add_argument(
        "--accept-flags",
        action="store_true",
        help="accept a verdict judged with criteria not as shipped (flagged in its file)",
    )
    verdict.add_argument(
        "--checklists",
        metavar="DIR",
        help="the repository's checklists (default ROOTDIR/checklists)",
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
    report.add_argument("--single-file", action="store_true", help="one self-contained index.html")
    report.add_argument(
        "--open", action="store_true", help="then serve it and open a browser (Ctrl-C stops)"
    )
    for command in (verdict, signoff, janitor, report):
        command.add_argument(
            "--rootdir",
            default=".",
            metavar="DIR",
            help="project root (checklists/, environments/)",
        )
    return parser


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
