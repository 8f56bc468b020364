"""Protected environments (production): what only their shipped profile may decide, and the
hosts a writing run must never reach, compared as a connection sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promorang_gate.errors import ConfigError
from promorang_gate.target.connections import owner_of, protect
from promorang_gate.target.profiles import (
    URL_KEYS,
    Profile,
    is_shipped,
    load_profiles,
    parse_variable,
)

if TYPE_CHECKING:
    from promorang_gate.target.environments import EnvSettings

__all__ = [
    "check_protection",
    "embedded_by_shipped_profile",
    "host_key",
    "protected_hosts",
    "refuse_protected_sandbox_hosts",
    "refuse_writes_to_protected_hosts",
]

# On a protected profile only the shipped file decides these (see check_protection).
_GUARDED = ("protected", "writes_allowed", "embedded")


def host_key(url: object) -> str:
    """``host:port`` as a connection sees it: case, a trailing dot, credentials and a default
    port spelled out make no other host (``https://API.x.com.:443`` is ``api.x.com:443``)."""
    try:
        parts = urlsplit(str(url))
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:  # an invalid port: validated, and refused, elsewhere
        return ""
    return f"{host}:{port}" if host else ""


def _protected_urls(profiles: Mapping[str, Profile], environ: Mapping[str, str]) -> dict[str, str]:
    """URL -> the protected env it belongs to: its shipped URLs and the URLs its variables give
    it (the real production project is often only known from GATE_PROD_SUPABASE_URL)."""
    found: dict[str, str] = {}
    for name, profile in profiles.items():
        if profile.shipped.get("protected") is not True:
            continue
        prefix = f"GATE_{name.upper().replace('-', '_')}_"
        urls = [profile.shipped.get(key) for key in URL_KEYS]
        urls += [environ.get(prefix + key.upper()) for key in URL_KEYS]
        for url in urls:
            key = host_key(url) if url else ""
            if key and not key.rsplit(":", 1)[0].endswith(".invalid"):
                found[str(url)] = name
    return found


def protected_hosts(profiles: Mapping[str, Profile], environ: Mapping[str, str]) -> dict[str, str]:
    """host:port -> the protected env it belongs to."""
    return {host_key(url): env for url, env in _protected_urls(profiles, environ).items()}


def refuse_protected_sandbox_hosts(state: Any, environ: Mapping[str, str]) -> None:
    """A sandbox state file names the URLs a writing run will use: none may be a protected
    env's host (a hand-made or stale file must not turn the sandbox into production)."""
    protected = protected_hosts(load_profiles(None), environ)
    for key in (*URL_KEYS, "admin_url"):
        owner = protected.get(host_key(getattr(state, key, "")))
        if owner is not None:
            raise ConfigError(
                f"the sandbox state file's {key} {getattr(state, key)} is a host of the"
                f" protected env '{owner}': give the file `promorang-sandbox up` wrote"
            )


def refuse_writes_to_protected_hosts(
    settings: Mapping[str, EnvSettings],
    profiles: Mapping[str, Profile],
    environ: Mapping[str, str],
) -> None:
    """An env that allows writes must not point at a protected env's hosts: the write guard
    goes by the env's name, so a staging run pointed at production would write there."""
    urls = _protected_urls(profiles, environ)
    protect(urls)  # checked again before the first write (connections.recheck_before_write)
    protected = protected_hosts(profiles, environ)
    for env in settings.values():
        if env.embedded or not env.values.get("writes_allowed"):
            continue
        others = {url: owner for url, owner in urls.items() if owner != env.name}
        for key in URL_KEYS:
            owner = protected.get(host_key(env.values.get(key, "")))
            if owner is None and (clash := owner_of([env.values.get(key, "")], others)):
                owner = clash[1]
            if owner is not None and owner != env.name:
                raise ConfigError(
                    f"env '{env.name}' allows writes, but its {key} {env.values[key]}"
                    f" ({env.sources.get(key, '?')}) is a host of the protected env '{owner}':"
                    f" point it at {env.name}, or gate {owner} itself (--env {owner}, read-only)"
                )


def _claims(
    profile: Profile, key: str, environ: Mapping[str, str], dotenv: Mapping[str, str], prefix: str
) -> list[tuple[str, object]]:
    """Each source but the shipped profile that gives ``key`` a value, as (where, value)."""
    var = prefix + key.upper()
    found: list[tuple[str, object]] = []
    path = profile.files.get(key)
    if path is not None and not is_shipped(path):
        found.append((f"{path} sets {key} = {profile.values[key]}", profile.values[key]))
    if var in dotenv:
        where = f"{var}={dotenv[var]} in .env.{profile.name}"
        found.append((where, parse_variable(key, dotenv[var], var)))
    if var in environ:
        found.append((f"{var}={environ[var]}", parse_variable(key, environ[var], var)))
    return found


def check_protection(
    profile: Profile, environ: Mapping[str, str], dotenv: Mapping[str, str], prefix: str
) -> bool:
    """Whether the env is protected. On a protected env only the shipped profile may enable
    writes or embedding, and nothing may lift the protection: a variable, a .env file or a
    project profile trying to is a usage error, before anything is sent."""
    claims = {k: _claims(profile, k, environ, dotenv, prefix) for k in _GUARDED}
    protected = profile.shipped.get("protected") is True or any(
        value is True for _, value in claims["protected"]
    )
    if not protected:
        return False
    for key, found in claims.items():
        for where, value in found:
            if key == "protected" and value is False:
                raise ConfigError(
                    f"{where}: env '{profile.name}' is protected and stays protected:"
                    " remove this setting"
                )
            if key != "protected" and value is True:
                raise ConfigError(
                    f"{where}: env '{profile.name}' is protected: {key} can be enabled only by"
                    " its shipped profile, never by a variable, a .env file or a project"
                    " profile; remove this setting"
                )
    return True


def embedded_by_shipped_profile(profile: Profile, environ: Mapping[str, str], prefix: str) -> bool:
    """Only a shipped profile makes an env the embedded sandbox: a variable or a project file
    turning, say, staging into the sandbox would yield staging verdicts that never saw staging.
    (A protected env's own refusal, with its wording, comes from check_protection.)"""
    shipped = profile.shipped.get("embedded") is True
    if profile.shipped.get("protected") is True:
        return shipped
    var = prefix + "EMBEDDED"
    path = profile.files.get("embedded")
    claims = [(f"{var}={environ[var]}", environ[var])] if var in environ else []
    if path is not None and not is_shipped(path):
        claims.append((f"{path} sets embedded", str(profile.values["embedded"])))
    for where, raw in claims:
        if bool(parse_variable("embedded", raw, var)) != shipped:
            raise ConfigError(
                f"{where}: only a shipped profile decides whether env '{profile.name}' is the"
                " embedded sandbox; remove this setting (the sandbox is --env sandbox)"
            )
    return shipped
