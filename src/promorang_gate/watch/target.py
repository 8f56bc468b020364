"""The watched environment, resolved by the gate's own code: profiles, variables, ``.env``
files, protection; the sandbox attached from its state file or started for the watch."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import (
    EnvSettings,
    Target,
    resolve_settings,
    target_from_sandbox,
)
from promorang_gate.target.sandbox_target import SandboxProvider, state_file_from

__all__ = ["WatchedEnv", "resolve_watched"]


@dataclass
class WatchedEnv:
    """The target, its settings (the watch's own keys live there) and the sandbox, if any."""

    target: Target
    settings: EnvSettings
    provider: SandboxProvider | None = None

    def value(self, key: str, default: object = None) -> object:
        return self.settings.values.get(key, default)

    def source(self, key: str) -> str:
        return self.settings.sources.get(key, "default")

    def close(self) -> None:
        if self.provider is not None:
            self.provider.stop()


def resolve_watched(
    env: str,
    rootdir: Path,
    redactor: Redactor,
    *,
    sandbox_state: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> WatchedEnv:
    """``env`` as the gate would resolve it; an embedded env attaches to the sandbox named by
    ``--sandbox-state``/``PROMORANG_SANDBOX_STATE``, else starts one (stopped by ``close``)."""
    environ = os.environ if environ is None else environ
    settings = resolve_settings([env], environ, {}, rootdir, rootdir / "environments")[env]
    provider: SandboxProvider | None = None
    if settings.embedded:
        provider = SandboxProvider(
            state_file=state_file_from(sandbox_state, environ), redactor=redactor
        )
        target = target_from_sandbox(settings, provider.state())
    else:
        target = settings.target()
    for secret in target.secret_values():
        redactor.add_secret(secret)
    if target.database_url:
        redactor.add_secret(urlsplit(target.database_url).password)
    # The watch never writes, wherever it looks: its HTTP guard refuses writes on every env.
    return WatchedEnv(replace(target, writes_allowed=False), settings, provider)
