"""Environment profiles resolved into ``Target`` objects (architecture.md §1).

Precedence, per key: option (URLs only) > ``GATE_<ENV>_<KEY>`` > profile > default. Secrets come
only from variables, or from a git-ignored ``.env.<name>`` file in rootdir that never overrides
a set variable. The embedded ``sandbox`` profile takes URLs and secrets from the running sandbox.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from promorang_gate.connections import owner_of, protect
from promorang_gate.errors import ConfigError
from promorang_gate.git import git
from promorang_gate.validation import check_name, check_number, check_secret, check_url

__all__ = [
    "SECRET_KEYS",
    "URL_KEYS",
    "EnvSettings",
    "Target",
    "known_environments",
    "load_profiles",
    "parse_env_selection",
    "parse_url_options",
    "refuse_protected_sandbox_hosts",
    "resolve_settings",
    "resolve_targets",
    "target_from_sandbox",
]

URL_KEYS = ("api_url", "frontend_url", "supabase_url")
URL_OPTIONS = {
    "api_url": "--api-url",
    "frontend_url": "--frontend-url",
    "supabase_url": "--supabase-url",
}
SECRET_KEYS = (
    "service_role_key",
    "database_url",
    "creator_token",
    "stripe_webhook_secret",
    "other_user_token",
    "vercel_token",
    # Vercel's Deployment Protection: sent as x-vercel-protection-bypass to the env's Vercel
    # hosts only (vercel_bypass.py).
    "vercel_bypass_secret",
    # Test users the gate signs in itself (signin.py): a fresh token per run.
    "creator_email",
    "creator_password",
    "other_user_email",
    "other_user_password",
)
REQUIRED_SECRETS = ("service_role_key",)

# key -> (type, default); URLs have no default.
SETTINGS: dict[str, tuple[type, object]] = {
    "bucket": (str, "content-media"),
    "upload_prefix": (str, "uploads"),
    "writes_allowed": (bool, False),
    "request_timeout_s": (float, 10.0),
    "readiness_budget_s": (float, 30.0),
    "latency_p95_budget_s": (float, 1.5),
    "failure_rate_budget": (float, 0.02),
    "fallback_rate_budget": (float, 0.02),
    "slo_uploads": (int, 20),
    "slo_concurrency": (int, 4),
    "contract_max_examples": (int, 10),
    "contract_deadline_s": (float, 60.0),
    "embedded": (bool, False),
    # Check that every host answers before any test runs (see preflight.py).
    "preflight": (bool, True),
    # The gate (checklists/gates.yaml) that judges this environment unless --gate picks another.
    "gate": (str, "full"),
    # Hardening (architecture.md §1): a protected profile's writes and embedding come only from
    # the shipped file; every request has a total deadline and a body size limit.
    "protected": (bool, False),
    "request_deadline_s": (float, 30.0),
    "max_body_bytes": (int, 8 * 1024 * 1024),
    # promorang-gate watch (runbook section 6): the bucket's quota in bytes (0: none declared,
    # the storage item is not verified) and the table recording Stripe webhook deliveries.
    "storage_quota_bytes": (int, 0),
    "webhook_deliveries_table": (str, ""),
    # The API's real-traffic error ratio for the watch: a Prometheus-compatible query endpoint
    # (GATE_<ENV>_PROMETHEUS_URL) and the PromQL expression it evaluates; "" = none.
    "prometheus_url": (str, ""),
    "error_rate_query": (str, ""),
    # The release serves the Stripe webhook (runbook section 7): its checks join the gate.
    "webhooks": (bool, False),
    # Whether the Create-flow reads (GET /api/content, /api/content/{id}) must refuse a request
    # without a token (true, as the platform's newest build does) or answer it (false).
    "reads_need_auth": (bool, True),
    # Where the frontend serves the Create form (redirects followed; build H: /create/moment).
    "create_path": (str, "/create"),
    # Tables and functions the backend's code uses that no migration of the release creates,
    # on purpose (comma-separated names; migrations.tables_created).
    "external_tables": (str, ""),
}
PROFILE_KEYS = (*URL_KEYS, *SETTINGS)
# On a protected profile only the shipped file decides these (see _check_protection).
_GUARDED = ("protected", "writes_allowed", "embedded")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


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
    creator_email: str | None = field(default=None, repr=False)
    creator_password: str | None = field(default=None, repr=False)
    other_user_email: str | None = field(default=None, repr=False)
    other_user_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Profile:
    """A profile as read: values and, per key, the file it came from."""

    name: str
    values: Mapping[str, object]
    files: Mapping[str, Path]
    #: The values of the shipped file alone (what a project file may not weaken).
    shipped: Mapping[str, object] = field(default_factory=dict)


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


# -- profiles ------------------------------------------------------------------------------------


def _read_profile(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"environment profile {path}: {exc}") from None
    unknown = sorted(set(data) - set(PROFILE_KEYS))
    if unknown:
        raise ConfigError(
            f"environment profile {path}: unknown key(s) {', '.join(unknown)}"
            f" (known: {', '.join(PROFILE_KEYS)})"
        )
    for key, value in data.items():
        _check_type(key, value, f"profile {path}")
    return data


def _shipped_profiles() -> list[Path]:
    root = resources.files("promorang_gate") / "environments"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


def load_profiles(project_dir: Path | None) -> dict[str, Profile]:
    """Shipped profiles, each merged with the project's file of the same name (project wins)."""
    shipped_paths = _shipped_profiles()
    paths = list(shipped_paths)
    if project_dir is not None and project_dir.is_dir():
        paths += sorted(project_dir.glob("*.toml"))
    values: dict[str, dict[str, object]] = {}
    files: dict[str, dict[str, Path]] = {}
    shipped: dict[str, dict[str, object]] = {}
    for path in paths:
        name = path.stem
        data = _read_profile(path)
        if path in shipped_paths:
            shipped[name] = dict(data)
        for key, value in data.items():
            values.setdefault(name, {})[key] = value
            files.setdefault(name, {})[key] = path
        values.setdefault(name, {})
        files.setdefault(name, {})
    return {n: Profile(n, values[n], files[n], shipped.get(n, {})) for n in values}


def known_environments(project_dir: Path | None) -> list[str]:
    return sorted(load_profiles(project_dir))


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


def _check_type(key: str, value: object, source: str) -> object:
    if key in URL_KEYS:
        if not isinstance(value, str):
            raise ConfigError(f"{key} from {source} must be a string URL, got {value!r}")
        return value
    kind = SETTINGS[key][0]
    ok = (
        isinstance(value, bool)
        if kind is bool
        else (isinstance(value, kind) and not isinstance(value, bool))
        or (kind is float and isinstance(value, int) and not isinstance(value, bool))
    )
    if not ok:
        raise ConfigError(f"{key} from {source} must be {_type_name(kind)}, got {value!r}")
    typed = float(value) if kind is float else value  # type: ignore[arg-type]
    return _check_value(key, typed, f"{key} from {source}")


def _check_value(key: str, value: object, where: str) -> object:
    """Range of a number, shape of a name (validation.py); ``where`` names the source."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        check_number(key, value, where)
    elif key in ("bucket", "upload_prefix") and isinstance(value, str):
        check_name(key, value, where)
    elif key == "create_path" and not (
        isinstance(value, str) and value.startswith("/") and not value.startswith("//")
    ):
        raise ConfigError(f"{where}: create_path must be a path on the frontend, like /create")
    return value


def _type_name(kind: type) -> str:
    return {bool: "a bool (true/false)", int: "an integer", float: "a number", str: "a string"}[
        kind
    ]


def _parse_variable(key: str, raw: str, var: str) -> object:
    if key in URL_KEYS:
        return raw.strip()
    kind = SETTINGS[key][0]
    text = raw.strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        if kind is int:
            return _check_value(key, int(text), f"{var}={raw!r}")
        if kind is float:
            return _check_value(key, float(text), f"{var}={raw!r}")
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: expected {_type_name(kind)}") from None
    return _check_value(key, text, f"{var}={raw!r}")


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


# -- .env files ----------------------------------------------------------------------------------


def _git_ignored(path: Path) -> bool:
    """False only when git says the file is inside a work tree and not ignored."""
    proc = git(path.parent, "check-ignore", "-q", path.name)
    return proc is None or proc.returncode != 1


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, optional ``export``, optional quotes)."""
    if not path.is_file():
        return {}
    if not _git_ignored(path):
        raise ConfigError(f"{path} holds secrets but is not git-ignored: add it to .gitignore")
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ").strip()
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{path}, line {number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


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
    _refuse_writes_to_protected_hosts(settings, profiles, environ)
    return settings


def _host_key(url: object) -> str:
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
            key = _host_key(url) if url else ""
            if key and not key.rsplit(":", 1)[0].endswith(".invalid"):
                found[str(url)] = name
    return found


def _protected_hosts(profiles: Mapping[str, Profile], environ: Mapping[str, str]) -> dict[str, str]:
    """host:port -> the protected env it belongs to."""
    return {_host_key(url): env for url, env in _protected_urls(profiles, environ).items()}


def refuse_protected_sandbox_hosts(state: Any, environ: Mapping[str, str]) -> None:
    """A sandbox state file names the URLs a writing run will use: none may be a protected
    env's host (a hand-made or stale file must not turn the sandbox into production)."""
    protected = _protected_hosts(load_profiles(None), environ)
    for key in (*URL_KEYS, "admin_url"):
        owner = protected.get(_host_key(getattr(state, key, "")))
        if owner is not None:
            raise ConfigError(
                f"the sandbox state file's {key} {getattr(state, key)} is a host of the"
                f" protected env '{owner}': give the file `promorang-sandbox up` wrote"
            )


def _refuse_writes_to_protected_hosts(
    settings: Mapping[str, EnvSettings],
    profiles: Mapping[str, Profile],
    environ: Mapping[str, str],
) -> None:
    """An env that allows writes must not point at a protected env's hosts: the write guard
    goes by the env's name, so a staging run pointed at production would write there."""
    urls = _protected_urls(profiles, environ)
    protect(urls)  # checked again before the first write (connections.recheck_before_write)
    protected = _protected_hosts(profiles, environ)
    for env in settings.values():
        if env.embedded or not env.values.get("writes_allowed"):
            continue
        others = {url: owner for url, owner in urls.items() if owner != env.name}
        for key in URL_KEYS:
            owner = protected.get(_host_key(env.values.get(key, "")))
            if owner is None and (clash := owner_of([env.values.get(key, "")], others)):
                owner = clash[1]
            if owner is not None and owner != env.name:
                raise ConfigError(
                    f"env '{env.name}' allows writes, but its {key} {env.values[key]}"
                    f" ({env.sources.get(key, '?')}) is a host of the protected env '{owner}':"
                    f" point it at {env.name}, or gate {owner} itself (--env {owner}, read-only)"
                )


def _resolve_one(
    profile: Profile, environ: Mapping[str, str], options: Mapping[str, str], rootdir: Path
) -> tuple[EnvSettings, list[str], list[str]]:
    name = profile.name
    prefix = f"GATE_{name.upper().replace('-', '_')}_"
    embedded = _embedded(profile, environ, prefix)
    may_protect = profile.shipped.get("protected") is True or profile.values.get("protected")
    dotenv = {} if embedded and not may_protect else read_dotenv(rootdir / f".env.{name}")
    protected = _check_protection(profile, environ, dotenv, prefix)
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in PROFILE_KEYS:
        var = prefix + key.upper()
        if key in options:
            if embedded:
                raise ConfigError(
                    f"{URL_OPTIONS[key]}: env '{name}' is embedded, its URLs come from the sandbox"
                )
            values[key], sources[key] = options[key], "option"
        elif var in environ:
            values[key], sources[key] = _parse_variable(key, environ[var], var), f"env:{var}"
        elif var in dotenv:
            values[key] = _parse_variable(key, dotenv[var], var)
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


def _is_shipped(path: Path) -> bool:
    return path.parent == Path(str(resources.files("promorang_gate") / "environments"))


def _claims(
    profile: Profile, key: str, environ: Mapping[str, str], dotenv: Mapping[str, str], prefix: str
) -> list[tuple[str, object]]:
    """Each source but the shipped profile that gives ``key`` a value, as (where, value)."""
    var = prefix + key.upper()
    found: list[tuple[str, object]] = []
    path = profile.files.get(key)
    if path is not None and not _is_shipped(path):
        found.append((f"{path} sets {key} = {profile.values[key]}", profile.values[key]))
    if var in dotenv:
        where = f"{var}={dotenv[var]} in .env.{profile.name}"
        found.append((where, _parse_variable(key, dotenv[var], var)))
    if var in environ:
        found.append((f"{var}={environ[var]}", _parse_variable(key, environ[var], var)))
    return found


def _check_protection(
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


def _embedded(profile: Profile, environ: Mapping[str, str], prefix: str) -> bool:
    """Only a shipped profile makes an env the embedded sandbox: a variable or a project file
    turning, say, staging into the sandbox would yield staging verdicts that never saw staging.
    (A protected env's own refusal, with its wording, comes from _check_protection.)"""
    shipped = profile.shipped.get("embedded") is True
    if profile.shipped.get("protected") is True:
        return shipped
    var = prefix + "EMBEDDED"
    path = profile.files.get("embedded")
    claims = [(f"{var}={environ[var]}", environ[var])] if var in environ else []
    if path is not None and not _is_shipped(path):
        claims.append((f"{path} sets embedded", str(profile.values["embedded"])))
    for where, raw in claims:
        if bool(_parse_variable("embedded", raw, var)) != shipped:
            raise ConfigError(
                f"{where}: only a shipped profile decides whether env '{profile.name}' is the"
                " embedded sandbox; remove this setting (the sandbox is --env sandbox)"
            )
    return shipped


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
