"""promorang-gate: the Operations Runbook's checklists as pytest tests that decide promotion."""

from __future__ import annotations

from promorang_gate.errors import ConfigError, GateError
from promorang_gate.target.environments import Target, resolve_targets

__all__ = ["ConfigError", "GateError", "Target", "resolve_targets"]
