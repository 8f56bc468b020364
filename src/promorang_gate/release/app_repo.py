"""The application repository under release: which checkout, where the setting came from, its
HEAD, and the release date whose notes the launch checklist reads.

Per environment, first found wins: ``--app-repo [ENV=]PATH`` (a bare PATH is for every selected
env), ``GATE_<ENV>_APP_REPO`` (from the environment, then the ``.env.<env>`` file), the ini key
``gate_app_repo`` (relative to rootdir), and for the embedded sandbox its own reference
repository. The setting lands in ``EnvSettings`` (key
``app_repo``) with its source, so the report header prints it like every other setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from promorang_gate.errors import ConfigError
from promorang_gate.git import git_output
from promorang_gate.target.environments import EnvSettings, read_dotenv

__all__ = [
    "INI_KEY",
    "KEY",
    "OPTION",
    "AppRepo",
    "ReleaseDate",
    "header_line",
    "missing_reason",
    "parse_release_date",
    "variable",
    "with_app_repos",
]

KEY = "app_repo"
OPTION = "--app-repo"
INI_KEY = "gate_app_repo"


def variable(env: str) -> str:
    return f"GATE_{env.upper().replace('-', '_')}_APP_REPO"


def missing_reason(env: str) -> str:
    """Why a repository check cannot run: the skip reason (item ``not_verified``)."""
    return (
        f"no application repository for env '{env}': give the checkout being released with"
        f" {OPTION} PATH or {variable(env)}"
    )


def _per_env_options(values: Sequence[str] | None, names: Sequence[str]) -> dict[str, str]:
    """``--app-repo PATH`` (every env) and ``--app-repo ENV=PATH``; the latter wins."""
    result: dict[str, str] = {}
    for value in values or []:
        env, sep, path = value.partition("=")
        if sep and env in names:
            result[env] = path
        else:
            for name in names:
                result.setdefault(name, value)
    return result


def _checked(raw: str, base: Path, source: str) -> Path:
    path = (base / raw).resolve() if raw.strip() else None
    if path is None or not path.exists():
        raise ConfigError(f"{source}: no such directory; give the application's checkout")
    if not path.is_dir():
        raise ConfigError(f"{source}: not a directory; give the application's checkout")
    return path


def _resolve_one(
    env: EnvSettings,
    option: str | None,
    environ: Mapping[str, str],
    ini: str,
    dirs: tuple[Path, Path],
) -> tuple[Path | None, str]:
    cwd, rootdir = dirs
    var = variable(env.name)
    if option is not None:
        return _checked(option, cwd, f"{OPTION} {option}"), "option"
    if environ.get(var, "").strip():
        return _checked(environ[var], cwd, f"{var}={environ[var]}"), f"env:{var}"
    dotenv = {} if env.embedded else read_dotenv(rootdir / f".env.{env.name}")
    if dotenv.get(var, "").strip():
        where = f".env.{env.name}: {var}={dotenv[var]}"
        return _checked(dotenv[var], rootdir, where), f"file:.env.{env.name}"
    if ini.strip():
        return _checked(ini, rootdir, f"ini {INI_KEY} = {ini}"), f"ini:{INI_KEY}"
    return None, "sandbox" if env.embedded else "not set"


def with_app_repos(
    settings: Mapping[str, EnvSettings],
    options: Sequence[str] | None,
    environ: Mapping[str, str],
    ini: str,
    cwd: Path,
    rootdir: Path,
) -> dict[str, EnvSettings]:
    """The settings with ``app_repo`` resolved (an absolute path, or None) and its source."""
    per_env = _per_env_options(options, list(settings))
    result: dict[str, EnvSettings] = {}
    for name, env in settings.items():
        path, source = _resolve_one(env, per_env.get(name), environ, ini, (cwd, rootdir))
        values = {**env.values, KEY: None if path is None else str(path)}
        sources = {**env.sources, KEY: source}
        result[name] = dataclasses.replace(env, values=values, sources=sources)
    return result


class AppRepo:
    """A checkout of the application: its files and its HEAD commit."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def head(self) -> str | None:
        """The HEAD commit, or None when the folder is not a git checkout git can read."""
        return git_output(self.path, "rev-parse", "--verify", "-q", "HEAD")

    def describe(self) -> str:
        head = self.head()
        return f"{self.path} at {head[:12]}" if head else f"{self.path} (not a git checkout)"


def header_line(value: object, source: str) -> str:
    """The report header's line for ``app_repo``."""
    if value is None and source == "sandbox":
        return f"    {KEY}: the embedded sandbox's reference repository (sandbox)"
    if value is None:
        return f"    {KEY}: not set ({OPTION} PATH or GATE_<ENV>_APP_REPO)"
    return f"    {KEY}: {AppRepo(str(value)).describe()} ({source})"


@dataclass(frozen=True)
class ReleaseDate:
    """The release whose notes (``docs/releases/<date>.md``) the launch checklist reads."""

    date: dt.date
    source: str

    def __str__(self) -> str:
        return self.date.isoformat()


def parse_release_date(value: str | None, today: dt.date | None = None) -> ReleaseDate:
    """``--release-date YYYY-MM-DD``; without it, today."""
    if value is None:
        return ReleaseDate(today or dt.date.today(), "today")
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        date = None
    if date is None or len(value.strip()) != len("YYYY-MM-DD"):
        raise ConfigError(f"--release-date {value!r}: expected a date as YYYY-MM-DD")
    return ReleaseDate(date, "--release-date")
