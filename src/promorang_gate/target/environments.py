"""Environment profiles resolved into ``Target`` objects (architecture.md §1).

Precedence, per key: option (URLs only) > ``GATE_<ENV>_<KEY>`` > profile > default. Secrets come
only from variables, or from a git-ignored ``.env.<name>`` file in rootdir that never overrides
a set variable. The embedded ``sandbox`` profile takes URLs and secrets from the running sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from promorang_gate.errors import ConfigError
from promorang_gate.target.profiles import (
    PROFILE_KEYS,
    REQUIRED_SECRETS,
    SECRET_KEYS,
    SETTINGS,
    URL_KEYS,
    URL_OPTIONS,
    CreateForm,
    Profile,
    known_environments,
    load_profiles,
    parse_variable,
    read_dotenv,
)
from promorang_gate.target.protection import (
    check_protection,
    embedded_by_shipped_profile,
    refuse_protected_sandbox_hosts,
    refuse_writes_to_protected_hosts,
)
from promorang_gate.target.validation import check_secret, check_url

__all__ = [
    "SECRET_KEYS",
    "SETTINGS",
    "URL_KEYS",
    "URL_OPTIONS",
    "CreateForm",
    "EnvSettings",
    "Target",
    "known_environments",
    "load_profiles",
    "parse_env_selection",
    "parse_url_options",
    "read_dotenv",
    "refuse_protected_sandbox_hosts",
    "resolve_settings",
    "resolve_targets",
    "target_from_sandbox",
]


@dataclass(frozen=True)
class Target:
    name: str
    api_url: str
    frontend_url: str
    supabase_url: str
    bucket: str
    upload_prefix: str
    writes_allowed: bool
    request_timeout_s: float
    readiness_budget_s: float
    latency_p95_budget_s: float
    failure_rate_budget: float
    fallback_rate_budget: float
    slo_uploads: int
    slo_concurrency: int
    contract_max_examples: int
    contract_deadline_s: float
    service_role_key: str = field(repr=False)
    database_url: str | None = field(repr=False)
    creator_token: str | None = field(repr=False)
    stripe_webhook_secret: str | None = field(repr=False)
    sources: Mapping[str, str]
    # A second user's token (not the creator's), for the ownership check; optional.
    other_user_token: str | None = field(default=None, repr=False)
    #: Vercel API token: reads the deployment's commit when the API does not state it.
    vercel_token: str | None = field(default=None, repr=False)
    vercel_bypass_secret: str | None = field(default=None, repr=False)
    sandbox_admin_url: str | None = None
    sandbox_admin_token: str | None = field(default=None, repr=False)
    preflight: bool = True
    #: Checkout of the application being released (``app_repo.py``); None when not given.
    app_repo: str | None = None

    def secret_values(self) -> tuple[str, ...]:
        """Every secret this target holds, for a ``Redactor``."""
        values = (*(getattr(self, key) for key in SECRET_KEYS), self.sandbox_admin_token)
        return tuple(v for v in values if v)

    protected: bool = False
    request_deadline_s: float = 30.0
    max_body_bytes: int = 8 * 1024 * 1024
    reads_need_auth: bool = True
    create_path: str = "/create"
    external_tables: str = ""
    #: The Create form's labels the browser check finds it by (profile ``create_form.*``).
    create_form: CreateForm = field(default_factory=CreateForm)
    creator_email: str | None = field(default=None, repr=False)
    creator_password: str | None = field(default=None, repr=False)
    other_user_email: str | None = field(default=None, repr=False)
    other_user_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EnvSettings:
    """One environment resolved except, for an embedded one, what the sandbox provides."""

    name: str
    embedded: bool
    values: Mapping[str, object]
    sources: Mapping[str, str]
    secrets: Mapping[str, str | None] = field(default_factory=dict)

    def target(self) -> Target:
        """The Target of a non-embedded environment."""
        if self.embedded:
            raise ConfigError(f"env '{self.name}' is embedded: its target comes from the sandbox")
        v = self.values
        return _make_target(self.name, v, self.secrets, self.sources)


def _make_target(
    name: str,
    v: Mapping[str, object],
    secrets: Mapping[str, str | None],
    sources: Mapping[str, str],
    admin_url: str | None = None,
    admin_token: str | None = None,
) -> Target:
    return Target(
        name=name,
        preflight=bool(v.get("preflight", True)),
        api_url=str(v["api_url"]),
        frontend_url=str(v["frontend_url"]),
        supabase_url=str(v["supabase_url"]),
        bucket=str(v["bucket"]),
        upload_prefix=str(v["upload_prefix"]),
        writes_allowed=bool(v["writes_allowed"]),
        request_timeout_s=float(v["request_timeout_s"]),  # type: ignore[arg-type]
        readiness_budget_s=float(v["readiness_budget_s"]),  # type: ignore[arg-type]
        latency_p95_budget_s=float(v["latency_p95_budget_s"]),  # type: ignore[arg-type]
        failure_rate_budget=float(v["failure_rate_budget"]),  # type: ignore[arg-type]
        fallback_rate_budget=float(v["fallback_rate_budget"]),  # type: ignore[arg-type]
        slo_uploads=int(v["slo_uploads"]),  # type: ignore[call-overload]
        slo_concurrency=int(v["slo_concurrency"]),  # type: ignore[call-overload]
        contract_max_examples=int(v["contract_max_examples"]),  # type: ignore[call-overload]
        contract_deadline_s=float(v["contract_deadline_s"]),  # type: ignore[arg-type]
        service_role_key=secrets.get("service_role_key") or "",
        database_url=secrets.get("database_url"),
        creator_token=secrets.get("creator_token"),
        stripe_webhook_secret=secrets.get("stripe_webhook_secret"),
        other_user_token=secrets.get("other_user_token"),
        vercel_token=secrets.get("vercel_token"),
        vercel_bypass_secret=secrets.get("vercel_bypass_secret"),
        sources=dict(sources),
        sandbox_admin_url=admin_url,
        sandbox_admin_token=admin_token,
        app_repo=str(v["app_repo"]) if v.get("app_repo") else None,
        protected=bool(v.get("protected", False)),
        request_deadline_s=float(v.get("request_deadline_s", 30.0)),  # type: ignore[arg-type]
        max_body_bytes=int(v.get("max_body_bytes", 8 * 1024 * 1024)),  # type: ignore[call-overload]
        reads_need_auth=bool(v.get("reads_need_auth", True)),
        create_path=str(v.get("create_path", "/create")),
        external_tables=str(v.get("external_tables", "")),
        create_form=CreateForm.from_values(v),
        creator_email=secrets.get("creator_email"),
        creator_password=secrets.get("creator_password"),
        other_user_email=secrets.get("other_user_email"),
        other_user_password=secrets.get("other_user_password"),
    )


def target_from_sandbox(settings: EnvSettings, state: Any) -> Target:
    """The Target of an embedded environment, from a ``SandboxState`` (or anything alike)."""
    values = dict(settings.values)
    sources = dict(settings.sources)
    for key in (*URL_KEYS, "bucket", "upload_prefix"):
        values[key] = str(getattr(state, key)).rstrip("/")
        sources[key] = "sandbox"
    secrets = {
        "service_role_key": state.service_role_key,
        "database_url": state.database_url,
        "creator_token": state.creator_token,
        "stripe_webhook_secret": getattr(state, "stripe_webhook_secret", None) or None,
        "other_user_token": getattr(state, "other_user_token", None) or None,
    }
    for key in ("service_role_key", "database_url", "creator_token", "other_user_token"):
        sources[key] = "sandbox"
    if secrets["stripe_webhook_secret"]:
        sources["stripe_webhook_secret"] = "sandbox"
    if not values.get("app_repo"):  # an app repo given for the run wins over the sandbox's own
        values["app_repo"] = getattr(state, "app_repo", None) or None
        sources["app_repo"] = "sandbox"
    return _make_target(settings.name, values, secrets, sources, state.admin_url, state.admin_token)


# -- parsing of options and values ---------------------------------------------------------------


def parse_env_selection(values: Iterable[str] | None, known: Iterable[str]) -> list[str]:
    """``--env a --env b,c`` -> ``["a", "b", "c"]`` (order kept, duplicates dropped)."""
    names: list[str] = []
    for value in values or ["sandbox"]:
        for raw in value.split(","):
            name = raw.strip()
            if name and name not in names:
                names.append(name)
    known = sorted(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown environment {', '.join(repr(n) for n in unknown)}:"
            f" known environments are {', '.join(known)}"
        )
    if not names:
        raise ConfigError(f"--env names no environment: known environments are {', '.join(known)}")
    return names


def parse_url_options(
    options: Mapping[str, Sequence[str] | None], env_names: Sequence[str]
) -> dict[str, dict[str, str]]:
    """``{"api_url": ["URL"] or ["ENV=URL", ...]}`` -> ``{env: {key: url}}``."""
    result: dict[str, dict[str, str]] = {}
    for key, values in options.items():
        flag = URL_OPTIONS[key]
        for value in values or []:
            env, sep, url = value.partition("=")
            if sep and env in env_names:
                result.setdefault(env, {})[key] = url
            elif len(env_names) == 1:
                result.setdefault(env_names[0], {})[key] = value
            else:
                raise ConfigError(
                    f"{flag} {value!r}: with several environments selected use ENV=URL"
                    f" with ENV one of {', '.join(env_names)}"
                )
    return result


def _is_placeholder(url: str, source: str) -> bool:
    """Profiles mark URLs still to be filled in with the reserved `.invalid` domain."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # not a URL at all: check_url names the problem
        return False
    return source.startswith("profile") and (host == "invalid" or host.endswith(".invalid"))


def _unconfigured(name: str, secrets: list[str], placeholders: list[str]) -> str:
    """One sentence naming every variable an environment still needs."""
    parts = []
    if secrets:
        parts.append(f"set {' and '.join(secrets)} (or put it in .env.{name})")
    if placeholders:
        options = ", ".join(URL_OPTIONS[key] for key in placeholders)
        variables = ", ".join(f"GATE_{name.upper()}_{key.upper()}" for key in placeholders)
        parts.append(f"its profile has placeholder URLs: set {variables} (or {options})")
    label = "missing secret" if secrets else "not configured"
    return f"{label} for env '{name}': " + "; ".join(parts)


# -- resolution ----------------------------------------------------------------------------------


def resolve_settings(
    names: Sequence[str],
    environ: Mapping[str, str],
    url_options: Mapping[str, Mapping[str, str]],
    rootdir: Path,
    environments_dir: Path | None = None,
) -> dict[str, EnvSettings]:
    """Resolve every selected environment; ``ConfigError`` for the first problem found
    (missing secrets are gathered into one message)."""
    profiles = load_profiles(environments_dir)
    parse_env_selection(names, profiles)
    settings: dict[str, EnvSettings] = {}
    missing: list[str] = []
    for name in names:
        env_settings, lacking, placeholders = _resolve_one(
            profiles[name], environ, url_options.get(name, {}), rootdir
        )
        settings[name] = env_settings
        if lacking or placeholders:
            missing.append(_unconfigured(name, lacking, placeholders))
    if missing:
        raise ConfigError("; ".join(missing))
    refuse_writes_to_protected_hosts(settings, profiles, environ)
    return settings


def _resolve_one(
    profile: Profile, environ: Mapping[str, str], options: Mapping[str, str], rootdir: Path
) -> tuple[EnvSettings, list[str], list[str]]:
    name = profile.name
    prefix = f"GATE_{name.upper().replace('-', '_')}_"
    embedded = embedded_by_shipped_profile(profile, environ, prefix)
    may_protect = profile.shipped.get("protected") is True or profile.values.get("protected")
    dotenv = {} if embedded and not may_protect else read_dotenv(rootdir / f".env.{name}")
    protected = check_protection(profile, environ, dotenv, prefix)
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in PROFILE_KEYS:
        var = prefix + key.upper().replace(".", "_")
        if key in options:
            if embedded:
                raise ConfigError(
                    f"{URL_OPTIONS[key]}: env '{name}' is embedded, its URLs come from the sandbox"
                )
            values[key], sources[key] = options[key], "option"
        elif var in environ:
            values[key], sources[key] = parse_variable(key, environ[var], var), f"env:{var}"
        elif var in dotenv:
            values[key] = parse_variable(key, dotenv[var], var)
            sources[key] = f"file:.env.{name}"
        elif key in profile.values:
            values[key], sources[key] = profile.values[key], "profile"
        elif key in SETTINGS:
            values[key], sources[key] = SETTINGS[key][1], "default"
        elif not embedded:
            raise ConfigError(
                f"env '{name}': {key} is not set:"
                f" give it in the profile, {var} or {URL_OPTIONS[key]}"
            )
    values["protected"] = protected
    placeholders: list[str] = []
    if not embedded:
        for key in URL_KEYS:
            source = sources[key]
            if _is_placeholder(str(values[key]), source):
                placeholders.append(key)
                continue
            if source == "profile":
                source = f"profile {profile.files[key]}"
            values[key] = check_url(name, key, str(values[key]), source)
    secrets: dict[str, str | None] = {}
    lacking: list[str] = []
    if not embedded:
        for key in SECRET_KEYS:
            var = prefix + key.upper()
            value = environ.get(var) or dotenv.get(var) or None
            secrets[key] = value
            if value is None:
                sources[key] = "not set"
                if key in REQUIRED_SECRETS:
                    lacking.append(var)
            else:
                sources[key] = f"env:{var}" if environ.get(var) else f"file:.env.{name}"
                check_secret(key, value, var)
    return EnvSettings(name, embedded, values, sources, secrets), lacking, placeholders


def resolve_targets(
    names: Sequence[str],
    environ: Mapping[str, str],
    url_options: Mapping[str, Mapping[str, str]],
    rootdir: Path,
    *,
    environments_dir: Path | None = None,
    sandbox_state: Any = None,
) -> dict[str, Target]:
    """Targets outside pytest (the CLI). An embedded env needs ``sandbox_state``."""
    settings = resolve_settings(names, environ, url_options, rootdir, environments_dir)
    targets: dict[str, Target] = {}
    for name, env in settings.items():
        if env.embedded:
            if sandbox_state is None:
                raise ConfigError(
                    f"env '{name}' is the embedded sandbox: give its state file"
                    " (--sandbox-state PATH or PROMORANG_SANDBOX_STATE)"
                )
            targets[name] = target_from_sandbox(env, sandbox_state)
        else:
            targets[name] = env.target()
    return targets
