"""Controller-side xdist hooks; registered only when pytest-xdist is loaded."""

from __future__ import annotations

from typing import Any

import pytest

from promorang_gate import state
from promorang_gate.target.sandbox_target import SandboxUnavailable

__all__ = ["XdistControllerHooks"]


class XdistControllerHooks:
    """Shares the run id and the sandbox with workers; gathers what they deselected."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

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
