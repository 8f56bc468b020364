"""promorang_sandbox: a local reference stack (PostgreSQL, Supabase-like gateway, Promorang API,
frontend) with named faults, for testing the deploy gate.

The names below load their modules on first use: a gate run spawns the sandbox before it has
imported the database driver the fault list needs (``import promorang_sandbox.launcher`` loads
neither psycopg nor the servers)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import PostgresUnavailable, SandboxError, SandboxStartError
    from .faults import FAULTS, Fault, UnknownFault
    from .launcher import SandboxHandle, SandboxLaunch, spawn_sandbox, start_sandbox
    from .state import SandboxState

_HOMES = {
    "FAULTS": "faults",
    "Fault": "faults",
    "PostgresUnavailable": "errors",
    "SandboxError": "errors",
    "SandboxHandle": "launcher",
    "SandboxLaunch": "launcher",
    "SandboxStartError": "errors",
    "SandboxState": "state",
    "UnknownFault": "faults",
    "spawn_sandbox": "launcher",
    "start_sandbox": "launcher",
}

__all__ = [
    "FAULTS",
    "Fault",
    "PostgresUnavailable",
    "SandboxError",
    "SandboxHandle",
    "SandboxLaunch",
    "SandboxStartError",
    "SandboxState",
    "UnknownFault",
    "spawn_sandbox",
    "start_sandbox",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value
