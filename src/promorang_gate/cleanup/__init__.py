"""Keeping the target clean: the run-tag grammar, the proof that a stored thing is the run's own,
the per-test cleanup ledger, the end-of-run sweep of leftovers, the janitor for killed runs, and
the interrupt handling that lets a stopped run tear down.
"""

from __future__ import annotations

# Modules, not names: importing the package must not load them all (heavy imports stay lazy).
__all__ = [
    "interrupted",
    "interrupts",
    "janitor",
    "ledger",
    "leftovers",
    "ownership",
    "run_history",
    "tags",
]
