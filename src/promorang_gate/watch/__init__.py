"""After promotion: ``promorang-gate watch`` measures the runbook's monitoring thresholds
(section 6) on the target, interval after interval, and stops on a breach.

``probes`` reaches the target (read-only, through ``GateHttp``), ``measures`` reads the figures
that are not requests (connections, storage), ``windows`` keeps the samples, ``items`` judges
them against the checklist's thresholds, ``progress`` draws the live line and ``output`` writes
what a release engineer and CI read afterwards; ``run`` drives the loop.
"""

from __future__ import annotations

# Modules, not names: the watch loads its heavy parts only when it runs.
__all__ = [
    "baseline",
    "items",
    "measures",
    "output",
    "probes",
    "progress",
    "replay",
    "run",
    "target",
    "windows",
]
