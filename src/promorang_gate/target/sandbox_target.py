"""The embedded sandbox behind the ``sandbox`` Target: attach, or start it once.

Single process: a run that will run tests spawns it at configure (``SandboxProvider.spawn``), so
that it boots while the run collects and prepares its checks (``promorang_gate.warmup``); the
first access to ``TargetRegistry["sandbox"]`` (the ``gate_target`` fixture) waits for it, or
attaches to a running one. Under xdist the controller spawns it at configure too and waits for
it when the first worker is configured, passing its state (JSON) through ``workerinput``;
workers only read that state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from promorang_gate.errors import ConfigError, GateError
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import (
    EnvSettings,
    Target,
    refuse_protected_sandbox_hosts,
    target_from_sandbox,
)

__all__ = ["SandboxProvider", "SandboxUnavailable", "TargetRegistry", "load_state_file"]

STATE_ENV_VAR = "PROMORANG_SANDBOX_STATE"


class SandboxUnavailable(GateError):
    """The sandbox could not be started or attached; tests needing it error with this message."""


class SandboxProvider:
    """Starts (or attaches to) the sandbox once; remembers a failure and repeats it."""

    def __init__(
        self,
        *,
        faults: Sequence[str] = (),
        state_file: str | None = None,
        state_json: str | None = None,
        error: str | None = None,
        redactor: Redactor,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.faults = tuple(faults)
        self.state_file = state_file
        self._state_json = state_json
        self._error = error
        self._redactor = redactor
        self._ready_timeout_s = ready_timeout_s
        self._handle: Any = None
        self._launch: Any = None
        self._state: Any = None
        self._owned = False

    @property
    def started(self) -> bool:
        return self._state is not None

    @property
    def booting(self) -> bool:
        """A sandbox this provider spawned is starting and nobody has waited for it yet."""
        return self._launch is not None and self._state is None and self._error is None

    def spawn(self) -> None:
        """Start the sandbox in the background, so that it boots while the run collects and
        prepares its checks; ``state()`` waits for it. No-op where the provider attaches."""
        if self._launch is not None or self._state_json is not None or self.state_file:
            return
        if self._error is not None or self._state is not None:
            return
        from promorang_sandbox import spawn_sandbox

        try:
            self._launch = spawn_sandbox(faults=self.faults, ready_timeout_s=self._ready_timeout_s)
        except Exception as exc:  # told by state(), to the checks that need the sandbox
            self._error = f"{type(exc).__name__}: {self._redactor.redact(str(exc))}"

    def state(self) -> Any:
        """The ``SandboxState``; waits for the spawned sandbox, or starts or attaches, on first
        call."""
        if self._state is not None:
            return self._state
        if self._error is not None:
            raise SandboxUnavailable(self._error)
        try:
            self._state = self._obtain()
        except Exception as exc:  # the sandbox's own errors carry its log
            self._error = f"{type(exc).__name__}: {self._redactor.redact(str(exc))}"
            raise SandboxUnavailable(self._error) from exc
        self._register_secrets(self._state)
        return self._state

    def _obtain(self) -> Any:
        from promorang_sandbox import SandboxHandle, SandboxState, spawn_sandbox

        if self._state_json is not None:
            return SandboxState.from_json(self._state_json)
        if self.state_file:
            self._handle = SandboxHandle.attach(self.state_file)
            return self._handle.state
        launch, self._launch = self._launch, None
        if launch is None:
            launch = spawn_sandbox(faults=self.faults, ready_timeout_s=self._ready_timeout_s)
        self._handle = launch.wait()
        self._owned = True
        return self._handle.state

    def state_json(self) -> str:
        """The state as JSON, for xdist workers."""
        state = self.state()
        to_json = getattr(state, "to_json", None)
        if callable(to_json):
            return str(to_json())
        return json.dumps(dict(vars(state)))

    def _register_secrets(self, state: Any) -> None:
        names = ("service_role_key", "anon_key", "creator_token", "admin_token", "other_user_token")
        for name in (*names, "stripe_webhook_secret"):
            self._redactor.add_secret(getattr(state, name, None))
        database_url = getattr(state, "database_url", None)
        if database_url:
            self._redactor.add_secret(database_url)
            self._redactor.add_secret(urlsplit(database_url).password)

    def begin_stop(self) -> None:
        """Tell a sandbox this provider started to stop, without waiting: it shuts down while
        the run finishes its files; ``stop()`` waits for it."""
        if self._handle is not None and self._owned:
            self._handle.begin_stop()

    def stop(self) -> None:
        """Stop a sandbox this provider started (or is starting); an attached one keeps running."""
        launch, self._launch = self._launch, None
        if launch is not None:
            launch.cancel()
        handle, self._handle = self._handle, None
        if handle is not None and self._owned:
            handle.stop()


class TargetRegistry(Mapping[str, Target]):
    """name -> Target in selection order; the embedded env is resolved on first access."""

    def __init__(
        self,
        settings: Mapping[str, EnvSettings],
        provider: SandboxProvider | None,
    ) -> None:
        self._settings = dict(settings)
        self._provider = provider
        self._targets: dict[str, Target] = {
            name: env.target() for name, env in settings.items() if not env.embedded
        }

    def __getitem__(self, name: str) -> Target:
        if name in self._targets:
            return self._targets[name]
        env = self._settings[name]
        if self._provider is None:
            raise SandboxUnavailable(f"env '{name}' is embedded but no sandbox is configured")
        self._targets[name] = target_from_sandbox(env, self._provider.state())
        return self._targets[name]

    def __contains__(self, name: object) -> bool:
        return name in self._settings

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def resolved(self, name: str) -> Target | None:
        """The Target if known already, without starting anything."""
        if name in self._targets:
            return self._targets[name]
        env = self._settings.get(name)
        if env is not None and env.embedded and self._provider and self._provider.started:
            return self[name]
        return None


def state_file_from(option: str | None, environ: Mapping[str, str]) -> str | None:
    """``--sandbox-state`` or ``PROMORANG_SANDBOX_STATE``; the file must exist."""
    path = option or environ.get(STATE_ENV_VAR) or None
    if path is not None and not Path(path).is_file():
        source = "--sandbox-state" if option else STATE_ENV_VAR
        raise ConfigError(f"{source} {path}: no such sandbox state file")
    return path


_URLS = ("api_url", "frontend_url", "supabase_url", "admin_url")
_MAX_STATE_BYTES = 64 * 1024


def load_state_file(path: str) -> Any:
    """The ``SandboxState`` in ``path``, or one ConfigError line saying what is wrong with it
    (checked at configuration: a garbage file must not become an error in every test)."""
    where = f"sandbox state file {path}"
    try:
        if Path(path).stat().st_size > _MAX_STATE_BYTES:
            raise ConfigError(f"{where}: larger than {_MAX_STATE_BYTES} bytes, not a state file")
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: not readable ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(
            f"{where}: not JSON; give the file `promorang-sandbox up --state-file` wrote"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a JSON object of URLs and keys")
    from promorang_sandbox.state import REQUIRED_FIELDS, SandboxState

    bad = [key for key in REQUIRED_FIELDS if not isinstance(raw.get(key), str) or not raw[key]]
    if bad:
        raise ConfigError(f"{where}: missing or not text: {', '.join(bad)}")
    for key in _URLS:
        if not _is_http_url(raw[key]):
            raise ConfigError(f"{where}: {key} is not an http(s) URL")
    faults, pid = raw.get("faults", []), raw.get("pid", 0)
    if not (isinstance(faults, list) and all(isinstance(f, str) for f in faults)):
        raise ConfigError(f"{where}: faults is not a list of fault names")
    if not isinstance(pid, int) or isinstance(pid, bool):
        raise ConfigError(f"{where}: pid is not a number")
    try:
        state = SandboxState.from_json(json.dumps(raw))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    refuse_protected_sandbox_hosts(state, os.environ)
    return state


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port out of range, unbalanced IPv6 brackets
        return False
