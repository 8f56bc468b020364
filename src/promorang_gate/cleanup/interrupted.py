"""After Ctrl-C or SIGTERM: remove what the run created before the process exits, within a
bound. The end-of-run sweep (``leftovers.py``) runs in a thread; after ``CLEANUP_BOUND_S``, or
at once on a second Ctrl-C, the gate stops waiting and prints the janitor command instead."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["CLEANUP_BOUND_S", "cleanup_after_interrupt"]

CLEANUP_BOUND_S = 10.0
_SLICE_S = 0.1


class Output(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def _janitor_command(envs: Sequence[str]) -> str:
    return " && ".join(f"promorang-gate janitor --env {env} --older-than 0s" for env in envs)


def cleanup_after_interrupt(
    envs: Sequence[str],
    sweep: Callable[[], Mapping[str, Any]],
    out: Output,
    *,
    bound_s: float = CLEANUP_BOUND_S,
) -> Mapping[str, Any] | None:
    """Run ``sweep`` (env -> SweepResult) for at most ``bound_s``; report on ``out``."""
    if not envs:
        return None
    from promorang_gate.cleanup.leftovers import unremoved

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = sweep()
        except Exception as exc:  # reported below; the process is ending anyway
            box["error"] = f"{type(exc).__name__}: {exc}"

    out.write(
        f"promorang-gate: interrupted: removing what this run created (at most {bound_s:g} s;"
        " Ctrl-C again to stop now)\n"
    )
    out.flush()
    thread = threading.Thread(target=work, name="gate-interrupt-cleanup", daemon=True)
    thread.start()
    deadline = time.monotonic() + bound_s
    try:
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(_SLICE_S)
    except KeyboardInterrupt:
        out.write(f"promorang-gate: cleanup stopped; remove the rest: {_janitor_command(envs)}\n")
        return None
    if thread.is_alive() or "error" in box:
        why = box.get("error", f"not finished within {bound_s:g} s")
        out.write(f"promorang-gate: cleanup {why}; remove the rest: {_janitor_command(envs)}\n")
        return None
    results: Mapping[str, Any] = box["result"]
    left = [env for env, result in results.items() if unremoved(result)]
    for env, result in results.items():
        out.write(f"promorang-gate: interrupted: {env}: removed {len(result.removed)} thing(s)\n")
    if left:
        out.write(f"promorang-gate: not everything was removed: {_janitor_command(left)}\n")
    return results
