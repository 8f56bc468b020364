"""Controller-side xdist hooks; registered only when pytest-xdist is loaded."""

from __future__ import annotations

from typing import Any

import pytest

from promorang_gate import state
from promorang_gate.target.sandbox_target import SandboxUnavailable

__all__ = ["XdistControllerHooks"]


class XdistControllerHooks:
    """Shares the run id and the sandbox with workers; gathers what they deselected; sends
    each worker whole files."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """``-n`` without a ``--dist`` mode: a file's checks on one worker, not each check
        where a worker is free (``load``, xdist's default). Split by check, both workers
        imported schemathesis and loaded the contract's spec and cases, and both started a
        browser, for a contract file and two browser checks: ``-m create_flow -n 2`` took 10.9
        CPU s that way, 9.0 by file (7.1-7.6 s against 7.6-8.0 s). A mode asked for is kept."""
        if config.getvalue("dist") != "load" or _dist_asked(config):
            return None
        return _whole_files(config, log)

    def pytest_configure_node(self, node: Any) -> None:
        stash = self.config.stash
        node.workerinput["gate_run_id"] = stash[state.RUN_ID]
        from promorang_gate.target.signin import signed_in_tokens

        settings: Any = stash.get(state.SETTINGS, {})
        node.workerinput["gate_signed_in"] = signed_in_tokens(settings)
        provider = stash.get(state.SANDBOX, None)
        if provider is None:
            return
        try:
            node.workerinput["gate_sandbox_state"] = provider.state_json()
        except SandboxUnavailable as exc:
            node.workerinput["gate_sandbox_error"] = str(exc)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        reporter = self.config.stash.get(state.REPORTER, None)
        output = getattr(node, "workeroutput", None) or {}
        if reporter is None:
            return
        if output.get("gate_usage_error"):
            reporter.usage_error = reporter.usage_error or str(output["gate_usage_error"])
        for nodeid, env, ids, check in output.get("gate_collected", []):
            reporter.collector.collect(nodeid, env, ids, check)
        for nodeid, env, ids, check in output.get("gate_deselected", []):
            reporter.collector.deselect(nodeid, env, ids, check)


def _dist_asked(config: pytest.Config) -> bool:
    """Whether the command line or its added options named a ``--dist`` mode (``-n`` alone
    turns xdist's ``no`` into ``load`` later, on the parsed options only)."""
    known = config.known_args_namespace
    return getattr(known, "dist", "no") != "no" or bool(getattr(known, "distload", False))


def _whole_files(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadFileScheduling

    class WholeFiles(LoadFileScheduling):  # type: ignore[misc]
        """By file (xdist's ``loadfile``), a crashing check reported once."""

        def remove_node(self, node: Any) -> str | None:
            # A crashed worker's unit goes back to the queue whole, and xdist's scope
            # schedulers send the check that crashed it again, to worker after worker until
            # the restarts run out (measured: one crash reported nine times). As with
            # --dist load, the crashing check is reported once and not sent again.
            crashed = _first_pending(self.assigned_work.get(node, {}))
            if crashed is None:  # a worker that finished its units
                super().remove_node(node)
                return None
            unit, nodeid = crashed
            unit[nodeid] = True
            super().remove_node(node)
            return nodeid

    return WholeFiles(config, log)


def _first_pending(workload: Any) -> tuple[dict[str, bool], str] | None:
    """The first check of a worker's units that has not completed (the one it was running)."""
    for unit in workload.values():
        for nodeid, completed in unit.items():
            if not completed:
                return unit, nodeid
    return None
