"""Project-wide defaults of the gate's suites (smoke/, contract/).

The engine itself is the `promorang_gate` pytest plugin, loaded through its entry point;
each suite's own fixtures live in its own conftest.py.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """A run with the gate disabled (``-p no:promorang_gate``) judges nothing, yet its caller
    may still read the reports: the earlier gate files are marked superseded."""
    if config.pluginmanager.has_plugin("promorang_gate") or hasattr(config, "workerinput"):
        return
    from promorang_gate.reporting.reports import void_previous

    reason = "the gate plugin was disabled (-p no:promorang_gate)"
    void_previous(config.rootpath / "reports", None, "no-gate-run", reason)
