"""Validation of setting values at configuration time: numbers, names, URLs and secrets.

A value that would make the gate hang, crash or leak later (``nan`` budgets, a negative
timeout, port 70000, ``http://[::1``, a 4-character key that cannot be redacted) is refused
here, with one line naming where it came from.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from promorang_gate.errors import ConfigError
from promorang_gate.secrets.redaction import MIN_SECRET_LEN

__all__ = [
    "RANGES",
    "TEXT_LIMITS",
    "BadText",
    "check_name",
    "check_number",
    "check_output_dir",
    "check_secret",
    "check_text",
    "check_url",
]

# Valid ranges of the numeric settings: key -> (low, high, low allowed).
RANGES: dict[str, tuple[float, float, bool]] = {
    "request_timeout_s": (0, 3600, False),
    "request_deadline_s": (0, 86400, False),
    "readiness_budget_s": (0, 3600, True),
    "latency_p95_budget_s": (0, 3600, False),
    "failure_rate_budget": (0, 1, True),
    "fallback_rate_budget": (0, 1, True),
    "slo_uploads": (1, 100_000, True),
    "slo_concurrency": (1, 256, True),
    "contract_max_examples": (1, 100_000, True),
    "contract_deadline_s": (0, 86400, False),
    "max_body_bytes": (1024, 1 << 31, True),
    "storage_quota_bytes": (0, 1 << 62, True),
}
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+\.?$|^[0-9A-Fa-f:.]+$")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
_DSN_SCHEMES = ("postgres", "postgresql")
_KV_PASSWORD = re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class BadText(ConfigError):
    """Free text (a name, a note) that is not one printable line of a bounded length."""


#: Limits of the free-text values written into reports and terminals.
TEXT_LIMITS = {"by": 100, "note": 500, "deployment": 300}


def check_text(value: str, what: str, limit: int) -> str:
    """``value`` if it is one printable line of at most ``limit`` characters, else BadText
    (quoting it escaped: a terminal escape or a line break is never printed raw)."""
    shown = repr(value)[:60] + ("…" if len(repr(value)) > 60 else "")
    if not value.isprintable():
        raise BadText(
            f"{what} {shown}: holds a line break, a control character or an invisible"
            " formatting character; give one printable line"
        )
    if len(value) > limit:
        raise BadText(f"{what} {shown}: {len(value)} characters, at most {limit}; shorten it")
    return value


def check_number(key: str, value: float, where: str) -> None:
    """``where`` names the source, e.g. ``GATE_LOCAL_SLO_UPLOADS='-1'`` or ``profile x.toml``."""
    if key not in RANGES:
        return
    low, high, low_allowed = RANGES[key]
    number = float(value)
    above = number >= low if low_allowed else number > low
    if not (math.isfinite(number) and above and number <= high):
        bound = "≥" if low_allowed else ">"
        raise ConfigError(
            f"{where}: must be a finite number {bound} {_shown(low)} and ≤ {_shown(high)},"
            f" got {value!r}"
        )


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def check_name(key: str, value: str, where: str) -> None:
    """``bucket``: a storage bucket id; ``upload_prefix``: folder names joined by ``/``."""
    if key == "bucket":
        ok = bool(_BUCKET.match(value))
    else:
        segments = value.strip("/").split("/")
        ok = all(_SEGMENT.match(s) and s not in (".", "..") for s in segments)
    if not ok:
        raise ConfigError(
            f"{where}: {value!r} is not a valid {key}"
            " (letters, digits, '.', '_', '-'; the prefix may have folders joined by '/')"
        )


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port out of range or not a number
    except ValueError:
        return None
    return parts


def check_url(env: str, key: str, url: str, source: str) -> str:
    """``url`` without trailing slash, or a ConfigError naming the key and its source."""
    problem = None
    parts = _split(url) if not _UNSAFE.search(url) else None
    if parts is None:
        problem = "is not a valid URL (bad characters, port or IPv6 brackets)"
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "is not an http(s) URL with a host"
    elif not _HOST.match(parts.hostname):
        problem = "has an invalid host name"
    elif parts.port == 0:
        problem = "has port 0"
    elif parts.username is not None or parts.password is not None:
        problem = "carries credentials: give secrets only in GATE_* variables"
    if problem:
        raise ConfigError(f"env '{env}': {key} {url!r} from {source} {problem}")
    return url.rstrip("/")


def check_secret(key: str, value: str, var: str) -> None:
    """A secret must be long enough to be redacted; a database URL must be one."""
    if key == "database_url":
        _check_dsn(value, var)
        return
    if len(value) < MIN_SECRET_LEN:
        raise ConfigError(
            f"{var} is shorter than {MIN_SECRET_LEN} characters: a secret that short cannot be"
            " kept out of the output; give the real key"
        )


def _check_dsn(value: str, var: str) -> None:
    text = value.strip()
    if "://" in text:
        parts = _split(text)
        if parts is None or parts.scheme not in _DSN_SCHEMES:
            raise ConfigError(
                f"{var} is not a valid PostgreSQL URL"
                " (postgresql:// with user, password, host, port, database)"
            )
        password = unquote(parts.password) if parts.password else None
    elif "=" in text:
        match = _KV_PASSWORD.search(text)
        password = match.group(1).strip("'") if match else None
    else:
        raise ConfigError(f"{var} is not a PostgreSQL connection string (postgresql://…)")
    if password is not None and len(password) < MIN_SECRET_LEN:
        raise ConfigError(
            f"the password in {var} is shorter than {MIN_SECRET_LEN} characters: it cannot be"
            " kept out of the output; use a longer one"
        )


def check_output_dir(directory: Path, what: str) -> None:
    """ConfigError unless files can be written in ``directory`` (which may not exist yet)."""
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what} {directory}: {existing} is not a directory; give another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {directory}: {existing} is not writable; give another path")
