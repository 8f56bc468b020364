"""Errors of the gate: one base class; ``ConfigError`` for user mistakes (a usage error)."""

from __future__ import annotations

__all__ = ["ConfigError", "GateError"]


class GateError(Exception):
    """Base class of every error the gate raises on purpose."""


class ConfigError(GateError):
    """A user mistake (option, variable, profile, checklist); the message says how to fix it."""
