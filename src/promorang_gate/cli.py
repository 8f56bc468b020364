"""``promorang-gate``: ``verdict DIR`` re-reads the gate files; ``janitor`` removes leftovers.

Exit codes: ``verdict`` 0 all allow, 1 any block, 2 no/malformed gate files; ``janitor`` 0 clean,
1 something left, 2 refused or a usage mistake, 3 unreachable, 4 key rejected, 5 bucket missing,
6 stopped midway (``janitor.EXIT_CODES``). Every error is one redacted line, no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promorang_gate.environments import SECRET_KEYS
from promorang_gate.errors import ConfigError
from promorang_gate.redaction import Redactor

__all__ = ["main", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_MAX_AGE_S = 3650 * 86400.0
_STATUSES = ("passed", "failed", "not_verified", "manual_signed", "manual_missing")


def parse_duration(text: str) -> float:
    """``30m``, ``2h``, ``1d``, ``3600`` (seconds) -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"--older-than {text!r}: expected a duration such as 30m, 2h or 3600")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > _MAX_AGE_S:
        raise ConfigError(f"--older-than {text!r}: at most 3650d")
    return seconds


def _load_gate_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable gate file ({exc})") from None
    if (
        not isinstance(data, dict)
        or data.get("verdict") not in ("allow", "block")
        or not isinstance(data.get("environment"), str)
        or not isinstance(data.get("checklists"), list)
    ):
        raise ConfigError(f"{path}: malformed gate file (needs environment, verdict, checklists)")
    return data


def _verdict(directory: str) -> int:
    root = Path(directory)
    paths = sorted(root.glob("gate-*.json")) if root.is_dir() else []
    if not paths:
        raise ConfigError(f"{directory}: no gate-*.json files")
    files = [_load_gate_file(p) for p in paths]
    rows = [("env", "checklist", "item", "status")]
    for data in files:
        for checklist in data["checklists"]:
            for item in checklist.get("items", []):
                rows.append(
                    (
                        data["environment"],
                        str(checklist.get("id")),
                        str(item.get("id")),
                        str(item.get("status")),
                    )
                )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    for data in files:
        statuses = [i.get("status") for c in data["checklists"] for i in c.get("items", [])]
        counts = ", ".join(f"{statuses.count(s)} {s.replace('_', ' ')}" for s in _STATUSES)
        print(
            f"GATE {data['environment']}: {data['verdict'].upper()} ({counts})"
            f" run {data.get('run_id')}"
        )
    return 0 if all(d["verdict"] == "allow" for d in files) else 1


def _janitor(args: argparse.Namespace) -> int:
    from promorang_gate.environments import resolve_targets
    from promorang_gate.sandbox_target import state_file_from

    older_than_s = parse_duration(args.older_than)
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

    return run_janitor(targets[args.env], older_than_s, sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promorang-gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    verdict = sub.add_parser("verdict", help="print the verdicts in DIR; exit 1 if any blocks")
    verdict.add_argument("directory", metavar="DIR", help="the gate reports directory")
    janitor = sub.add_parser("janitor", help="remove test data the gate left behind")
    janitor.add_argument("--env", required=True, metavar="NAME", help="environment to clean")
    janitor.add_argument(
        "--older-than", default="1h", metavar="DURATION", help="e.g. 30m, 2h, 3600 (default 1h)"
    )
    janitor.add_argument(
        "--sandbox-state", metavar="PATH", help="state file of a running sandbox (--env sandbox)"
    )
    janitor.add_argument(
        "--rootdir", default=".", metavar="DIR", help="project root (.env.<name>, environments/)"
    )
    return parser


def _redactor() -> Redactor:
    """Every secret variable that is set (the janitor's target is not resolved yet)."""
    suffixes = tuple(f"_{key.upper()}" for key in SECRET_KEYS)
    return Redactor(
        v for k, v in os.environ.items() if k.startswith("GATE_") and k.endswith(suffixes)
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "verdict":
            return _verdict(args.directory)
        return _janitor(args)
    except ConfigError as exc:
        print(f"promorang-gate: error: {_redactor().one_line(exc, 2000)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
