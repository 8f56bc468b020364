"""Errors of the sandbox: one base class, one subclass per way it can fail to start."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class of every error the sandbox raises on purpose."""


class PostgresUnavailable(SandboxError):
    """No PostgreSQL server could be reached or started."""


class SandboxStartError(SandboxError):
    """The stack did not become ready in time; the message carries its log. ``workdir`` is the
    work directory the start used (removed by the time this is raised)."""

    workdir: object = None
