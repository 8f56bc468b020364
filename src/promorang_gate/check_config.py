"""``promorang-gate check-config --env staging,prod``: what ``pytest --env …`` checks before its
first test, and nothing else: every setting resolved (no placeholder URL, no missing secret),
the application repository found when one is given, each host reachable, each key, token and
database URL accepted by the target. A workflow runs it first, so a missing repository
variable fails in seconds, before anything is built, migrated or promoted."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from promorang_gate.errors import ConfigError
from promorang_gate.target.environments import (
    SECRET_KEYS,
    URL_KEYS,
    EnvSettings,
    known_environments,
    parse_env_selection,
    resolve_settings,
)

__all__ = ["EXIT_OK", "EXIT_PROBLEM", "check_config"]

EXIT_OK = 0
#: The exit code of ``pytest --env …`` for the same problems (a usage error).
EXIT_PROBLEM = 4


def _describe(env: EnvSettings) -> str:
    urls = ", ".join(f"{key} {env.values[key]}" for key in URL_KEYS)
    secrets = ", ".join(key for key in SECRET_KEYS if env.secrets.get(key))
    repo = env.values.get("app_repo") or "not given"
    return f"{urls}; secrets set: {secrets or 'none'}; app_repo: {repo}"


def check_config(
    envs: Sequence[str],
    rootdir: Path,
    environ: Mapping[str, str] | None = None,
    app_repos: Sequence[str] | None = None,
    out: TextIO | None = None,
    probe: bool = True,
) -> int:
    """Print one ``CONFIG <env>: ok …`` line per env and return 0, or raise ConfigError."""
    from promorang_gate.release.app_repo import with_app_repos
    from promorang_gate.target.credentials import check_credentials
    from promorang_gate.target.preflight import check_reachable

    out = out or sys.stdout
    environ = os.environ if environ is None else environ
    env_dir = rootdir / "environments"
    names = parse_env_selection(envs, known_environments(env_dir))
    settings = resolve_settings(names, environ, {}, rootdir, env_dir)
    settings = with_app_repos(settings, app_repos, environ, "", Path.cwd(), rootdir)
    embedded = [name for name, env in settings.items() if env.embedded]
    if embedded:
        raise ConfigError(
            f"check-config --env {','.join(embedded)}: the embedded sandbox is configured by"
            " the sandbox itself; check the envs a deployment is gated on (staging, prod)"
        )
    targets = [env.target() for env in settings.values()]
    if probe:
        check_reachable(targets)
        check_credentials(targets)
    for env in settings.values():
        print(f"CONFIG {env.name}: ok ({_describe(env)})", file=out)
    return EXIT_OK
