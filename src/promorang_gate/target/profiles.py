"""Environment profiles as read: the shipped TOML files (``profiles/*.toml``) merged with a
project's, the settings they may hold with their types and defaults, and ``.env.<name>`` files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from promorang_gate.errors import ConfigError
from promorang_gate.git import git
from promorang_gate.target.validation import check_name, check_number

__all__ = [
    "CREATE_FORM_LABELS",
    "FIELD_ABSENT",
    "MAY_BE_ABSENT",
    "PROFILE_KEYS",
    "REQUIRED_SECRETS",
    "SECRET_KEYS",
    "SETTINGS",
    "URL_KEYS",
    "URL_OPTIONS",
    "CreateForm",
    "Profile",
    "check_value",
    "is_shipped",
    "known_environments",
    "load_profiles",
    "parse_variable",
    "read_dotenv",
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

# What the browser check looks for on the Create form, by role and label text (a table in the
# profile: ``create_form.submit = "Publish"``). The defaults are the sandbox's form, whose
# labels are the platform's where its form names the field the same way.
CREATE_FORM_LABELS: dict[str, str] = {
    "submit": "Create Content",
    "image": "Image",
    "title": "Title",
    "platform": "Platform",
    "platform_url": "Platform URL",
    "description": "Description",
    "total_shares": "Total Shares",
    "share_price": "Share Price",
}
SETTINGS.update({f"create_form.{key}": (str, label) for key, label in CREATE_FORM_LABELS.items()})
# ``create_form.share_price = false`` (variable: ``GATE_<ENV>_CREATE_FORM_SHARE_PRICE=false``):
# the build's form has no such field, so the check neither fills nor compares it. Not for the
# submit button, the image or the title, without which the check proves nothing.
FIELD_ABSENT = False
MAY_BE_ABSENT = ("platform", "platform_url", "description", "total_shares", "share_price")
_TABLES = {"create_form": CREATE_FORM_LABELS}

PROFILE_KEYS = (*URL_KEYS, *SETTINGS)


@dataclass(frozen=True)
class CreateForm:
    """The Create form's submit button and field labels, as the browser check finds them; None
    for a field the profile declares absent (``FIELD_ABSENT``)."""

    submit: str = CREATE_FORM_LABELS["submit"]
    image: str = CREATE_FORM_LABELS["image"]
    title: str = CREATE_FORM_LABELS["title"]
    platform: str | None = CREATE_FORM_LABELS["platform"]
    platform_url: str | None = CREATE_FORM_LABELS["platform_url"]
    description: str | None = CREATE_FORM_LABELS["description"]
    total_shares: str | None = CREATE_FORM_LABELS["total_shares"]
    share_price: str | None = CREATE_FORM_LABELS["share_price"]

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> CreateForm:
        """From resolved settings (``create_form.<field>`` keys); defaults where not set."""
        found = {k: values.get(f"create_form.{k}") for k in CREATE_FORM_LABELS}
        given = {k: v for k, v in found.items() if v is not None}
        labels: dict[str, Any] = {
            k: None if v is FIELD_ABSENT else str(v) for k, v in given.items()
        }
        return cls(**labels)

    def absent(self) -> list[str]:
        """The fields the profile declares absent."""
        return [k for k in MAY_BE_ABSENT if getattr(self, k) is None]


_TRUE = {"1", "true", "yes", "on"}

_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Profile:
    """A profile as read: values and, per key, the file it came from."""

    name: str
    values: Mapping[str, object]
    files: Mapping[str, Path]
    #: The values of the shipped file alone (what a project file may not weaken).
    shipped: Mapping[str, object] = field(default_factory=dict)


def _read_profile(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"environment profile {path}: {exc}") from None
    data = _flatten_tables(data, path)
    unknown = sorted(set(data) - set(PROFILE_KEYS))
    if unknown:
        raise ConfigError(
            f"environment profile {path}: unknown key(s) {', '.join(unknown)}"
            f" (known: {', '.join(PROFILE_KEYS)})"
        )
    for key, value in data.items():
        _check_type(key, value, f"profile {path}")
    return data


def _flatten_tables(data: Mapping[str, object], path: Path) -> dict[str, object]:
    """``create_form.submit = "Publish"`` (a TOML table) -> the key ``create_form.submit``."""
    flat: dict[str, object] = {}
    for key, value in data.items():
        if key not in _TABLES:
            flat[key] = value
            continue
        fields = _TABLES[key]
        if not isinstance(value, dict):
            raise ConfigError(
                f"environment profile {path}: {key} must be a table of labels, like"
                f' {key}.submit = "{fields["submit"]}", got {value!r}'
            )
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ConfigError(
                f"environment profile {path}: unknown key(s)"
                f" {', '.join(f'{key}.{k}' for k in unknown)}"
                f" (known: {', '.join(f'{key}.{k}' for k in fields)})"
            )
        flat.update({f"{key}.{k}": v for k, v in value.items()})
    return flat


def _shipped_profiles() -> list[Path]:
    root = resources.files("promorang_gate.target") / "profiles"
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


def _check_type(key: str, value: object, source: str) -> object:
    if key in URL_KEYS:
        if not isinstance(value, str):
            raise ConfigError(f"{key} from {source} must be a string URL, got {value!r}")
        return value
    kind = SETTINGS[key][0]
    if key.startswith("create_form.") and value is FIELD_ABSENT:
        return check_value(key, value, f"{key} from {source}")
    ok = (
        isinstance(value, bool)
        if kind is bool
        else (isinstance(value, kind) and not isinstance(value, bool))
        or (kind is float and isinstance(value, int) and not isinstance(value, bool))
    )
    if not ok:
        raise ConfigError(f"{key} from {source} must be {_type_name(kind)}, got {value!r}")
    typed = float(value) if kind is float else value  # type: ignore[arg-type]
    return check_value(key, typed, f"{key} from {source}")


def check_value(key: str, value: object, where: str) -> object:
    """Range of a number, shape of a name (validation.py); ``where`` names the source."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        check_number(key, value, where)
    elif key in ("bucket", "upload_prefix") and isinstance(value, str):
        check_name(key, value, where)
    elif key == "create_path" and not (
        isinstance(value, str) and value.startswith("/") and not value.startswith("//")
    ):
        raise ConfigError(f"{where}: create_path must be a path on the frontend, like /create")
    elif key.startswith("create_form."):
        _check_form_label(key, value, where)
    return value


def _check_form_label(key: str, value: object, where: str) -> None:
    name = key.partition(".")[2]
    if value is FIELD_ABSENT and name not in MAY_BE_ABSENT:
        raise ConfigError(
            f"{where}: {key} cannot be declared absent (false): the check needs it; only"
            f" {', '.join(f'create_form.{k}' for k in MAY_BE_ABSENT)} may be"
        )
    if value is not FIELD_ABSENT and not (isinstance(value, str) and value.strip()):
        raise ConfigError(
            f"{where}: {key} must be the text a user sees on the Create form, like"
            f' "{CREATE_FORM_LABELS[name]}", or false for a field the form does not have'
        )


def _type_name(kind: type) -> str:
    return {bool: "a bool (true/false)", int: "an integer", float: "a number", str: "a string"}[
        kind
    ]


def parse_variable(key: str, raw: str, var: str) -> object:
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
            return check_value(key, int(text), f"{var}={raw!r}")
        if kind is float:
            return check_value(key, float(text), f"{var}={raw!r}")
        if key.startswith("create_form.") and text.lower() == "false":
            return check_value(key, FIELD_ABSENT, f"{var}={raw!r}")
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: expected {_type_name(kind)}") from None
    return check_value(key, text, f"{var}={raw!r}")


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


def is_shipped(path: Path) -> bool:
    return path.parent == Path(str(resources.files("promorang_gate.target") / "profiles"))
