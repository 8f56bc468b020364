"""What the gate decides: the checklists and their items, the named gates, the criteria in force,
the verdict computed from what ran, and the gate file read back by ``promorang-gate verdict``.

Pure of the network: nothing here sends a request.
"""

from __future__ import annotations

# Modules, not names: importing the package must not load them all (heavy imports stay lazy).
__all__ = [
    "baseline",
    "checklists",
    "criteria",
    "criteria_digest",
    "gates",
    "observed",
    "signing",
    "verdict",
    "verdict_file",
    "webhook_scope",
]
