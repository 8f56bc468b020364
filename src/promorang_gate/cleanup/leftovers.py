"""The end-of-run sweep: what this run created and its cleanup ledger missed.

Before the verdict, every environment the run wrote to is searched for this run's tag (the
janitor's ``sweep_run``, restricted to exactly this run id, ownership checked on the stored
thing). Whatever it finds was missed by the ledger — a target that stored an upload under
another path than the URL it answered, a test that forgot to register — and is reported in the
terminal and the gate file; what cannot be removed fails the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promorang_gate.cleanup.janitor import SweepResult
    from promorang_gate.secrets.redaction import Redactor

__all__ = [
    "NOT_REMOVED_HEADING",
    "leftover_lines",
    "leftovers_json",
    "sweep_leftovers",
    "unremoved",
]

#: Above the list of what this run created and could not remove, in every report.
NOT_REMOVED_HEADING = (
    "Left on the target: this run created these and could not remove them (the run fails;"
    " remove them by hand or with `promorang-gate janitor`)"
)


def run_failed_note(not_removed: Sequence[str]) -> str:
    """What a heading adds when the verdict allows but the run fails for what it left."""
    return f"RUN FAILED: {len(not_removed)} left on the target" if not_removed else ""


def sweep_leftovers(
    targets: Any, env_names: Iterable[str], run_id: str, redactor: Redactor
) -> dict[str, SweepResult]:
    """One sweep per env given (those where checks of writing items ran); an env that allows
    no writes, or was never reached, gets not even a listing."""
    results: dict[str, SweepResult] = {}
    for env in env_names:
        target = targets.resolved(env)
        if target is None or not target.writes_allowed:
            continue
        from promorang_gate.cleanup.janitor import sweep_run

        results[env] = sweep_run(target, run_id, redactor=redactor)
    return results


def unremoved(result: SweepResult) -> list[str]:
    """What the sweep found and could not remove (or could not search): the run fails."""
    problems = [*result.failed, *result.left_alone]
    return [result.error, *problems] if result.error else problems


def leftovers_json(result: SweepResult) -> dict[str, Any]:
    return {
        "found": list(result.found),
        "removed": list(result.removed),
        "not_removed": unremoved(result),
    }


def leftover_lines(env: str, result: SweepResult, shown: int = 5) -> list[str]:
    """The terminal's account: every thing not removed, the first few removed (all are in the
    gate file)."""
    lines = [f"LEFTOVER {env}: NOT removed: {problem}" for problem in unremoved(result)]
    if result.removed:
        lines.append(
            f"LEFTOVER {env}: the cleanup ledger missed {len(result.removed)} thing(s); the"
            " end-of-run sweep removed them:"
        )
        lines += [f"  {what}" for what in result.removed[:shown]]
        if len(result.removed) > shown:
            lines.append(f"  … and {len(result.removed) - shown} more (gate file: leftovers)")
    return lines
