"""The words ``promorang-gate --help`` and each subcommand's ``--help`` print: what it is for,
what its exit codes mean and one example, in plain words (no internal names)."""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["apply_help"]

MAIN = (
    "The deploy gate's commands beside `pytest` (which runs the checks and writes the verdict"
    " to reports/gate-<env>.json). Every error is one line on stderr, with secrets masked."
)
MAIN_EPILOG = """\
Each command has its own help: promorang-gate COMMAND --help.

examples:
  promorang-gate check-config --env staging
  pytest --env staging
  promorang-gate verdict reports --env staging --max-age 30m
"""

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "verdict": (
        "Read the gate file a run wrote (DIR/gate-ENV.json) and decide again, without running"
        " anything: exit 0 only when it says ALLOW, is fresh, was judged by the expected gate"
        " with this repository's checklists, and the run left nothing behind.",
        """\
exit codes:
  0 allow   1 block (blockers listed)   2 usage mistake   3 no gate file
  4 damaged or contradictory file   5 too old, or a newer run never finished
  6 judged by another gate or by criteria not as shipped (--accept-flags takes
    them), or with a sign-off given on the command line (--no-cli-signoffs)

example:
  promorang-gate verdict reports --env staging --gate promotion --max-age 30m
""",
    ),
    "signoff": (
        "Record that a person checked a manual checklist item (one the tests cannot check)"
        " for an environment. It goes into checklists/signoffs/ENV.yaml, which is committed"
        " with the release, and counts for 7 days.",
        """\
exit codes: 0 recorded, 2 usage mistake (unknown item, an item the tests check, a
secret in the text)

example:
  promorang-gate signoff growth_hub.frontend_copy --env staging --by alice \\
      --note "copy reviewed on the staging build"
""",
    ),
    "janitor": (
        "Remove the content and files a killed gate run left on an environment that allows"
        " writes: only what carries a gate run's tag and is older than --older-than."
        " Production is never touched.",
        """\
exit codes:
  0 nothing left   1 something could not be removed   2 refused or usage mistake
  3 unreachable    4 key rejected   5 bucket missing   6 stopped midway

example:
  promorang-gate janitor --env staging --older-than 2h
""",
    ),
    "report": (
        "Turn the run's Allure results (reports/allure-results) into the HTML report"
        " (reports/allure-report/index.html) with Allure 3, installed with npm on first use.",
        """\
exit codes: 0 written, 2 usage mistake, 3 no results, 4 no Node.js/npm, 5 failed

example:
  promorang-gate report --open
""",
    ),
    "check-config": (
        "Check what `pytest --env ENV` checks before its first test, and nothing else: every"
        " setting is set (no placeholder URL, no missing key), each host answers, and the"
        " target accepts the service-role key, the user tokens and the database URL."
        " Takes seconds; a workflow runs it before it changes anything.",
        """\
exit codes: 0 all good, 2 usage mistake, 4 a setting or credential to fix (one line
naming its variable, e.g. GATE_STAGING_SERVICE_ROLE_KEY)

example:
  promorang-gate check-config --env staging,prod
""",
    ),
}


def apply_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Set the descriptions and examples on ``parser`` and its subcommands."""
    parser.description = textwrap.fill(MAIN, 78)
    parser.epilog = MAIN_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices = getattr(action, "choices", None) or {}
        for name, sub in choices.items():
            if name in SUBCOMMANDS:
                description, sub.epilog = SUBCOMMANDS[name]
                sub.description = textwrap.fill(description, 78)
                sub.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser
