"""promorang_sandbox: a local reference stack (PostgreSQL, Supabase-like gateway, Promorang API,
frontend) with named faults, for testing the deploy gate."""

from __future__ import annotations

from .errors import PostgresUnavailable, SandboxError, SandboxStartError
from .faults import FAULTS, Fault, UnknownFault
from .launcher import SandboxHandle, start_sandbox
from .state import SandboxState

__all__ = [
    "FAULTS",
    "Fault",
    "PostgresUnavailable",
    "SandboxError",
    "SandboxHandle",
    "SandboxStartError",
    "SandboxState",
    "UnknownFault",
    "start_sandbox",
]
