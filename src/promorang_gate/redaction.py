"""Removal of secrets from everything the gate writes: attachments, reports, terminal, errors."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "SENSITIVE_HEADERS", "Redactor"]

MASK = "[REDACTED]"
_MASK_B = MASK.encode()
_MIN_SECRET_LEN = 6

SENSITIVE_HEADERS = frozenset(
    {"apikey", "authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"}
)
_QUERY_NAMES = r"apikey|api_key|token|access_token|key|secret|password|signature|sig"

# Patterns that hold whatever the registered secrets are; each keeps its prefix (group "keep").
_STATIC = [
    # JWT-shaped tokens (header.payload.signature, base64url).
    r"(?P<jwt>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)",
    # The password of any scheme://user:password@ URL (postgres, postgresql, https, ...).
    r"(?P<url_keep>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"']+:)(?P<url_pw>[^@\s/\"']+)(?=@)",
    # Secret-looking query parameters: ?apikey=..., &token=...
    rf"(?P<q_keep>[?&;](?:{_QUERY_NAMES})=)(?P<q_val>[^&#\s\"'<>]+)",
    # Header values as they appear in text: "apikey: x", 'Authorization': 'Bearer x'.
    r"(?P<h_keep>(?<![\w-])(?:apikey|authorization|proxy-authorization|x-api-key|set-cookie|cookie)"
    r"[\"']?\s*[:=]\s*[\"']?)(?P<h_val>(?!\[REDACTED\])[^\s\"'][^\r\n\"']*)",
]
_STATIC_FLAGS = re.IGNORECASE


class Redactor:
    """Replaces secrets by ``[REDACTED]``; thread-safe, one compiled pattern rebuilt on add."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._text_re = re.compile("|".join(_STATIC), _STATIC_FLAGS)
        self._bytes_re: re.Pattern[bytes] | None = None
        for secret in secrets:
            self.add_secret(secret)

    @property
    def secrets_count(self) -> int:
        return len(self._secrets)

    def add_secret(self, value: str | None) -> None:
        """Register a secret and its URL-encoded forms; values under 6 chars are ignored."""
        if not value or len(value) < _MIN_SECRET_LEN:
            return
        with self._lock:
            forms = {value, quote(value, safe=""), quote_plus(value)}
            if forms <= self._secrets:
                return
            self._secrets |= forms
            self._rebuild()

    def _rebuild(self) -> None:
        ordered = sorted(self._secrets, key=len, reverse=True)
        literal = "|".join(re.escape(s) for s in ordered)
        parts = [f"(?P<secret>{literal})", *_STATIC]
        self._text_re = re.compile("|".join(parts), _STATIC_FLAGS)
        self._bytes_re = re.compile(b"|".join(re.escape(s.encode()) for s in ordered))

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        for keep in ("url_keep", "q_keep", "h_keep"):
            prefix = match.group(keep)
            if prefix is not None:
                return prefix + MASK
        return MASK

    def redact(self, text: str) -> str:
        if not text:
            return text
        return self._text_re.sub(self._replace, text)

    def redact_bytes(self, data: bytes) -> bytes:
        """Text is redacted fully; binary data only loses registered secrets found verbatim."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pattern = self._bytes_re
            return pattern.sub(_MASK_B, data) if pattern is not None else data
        return self.redact(text).encode("utf-8")

    def redact_headers(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> dict[str, str]:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        for name, value in pairs:
            if name.lower() in SENSITIVE_HEADERS:
                out[name] = MASK
            else:
                out[name] = self.redact(str(value))
        return out

    def redact_url(self, url: object) -> str:
        return self.redact(str(url))

    def redact_file(self, path: str | Path) -> bool:
        """Rewrite ``path`` in place when it held a secret; returns whether it changed."""
        file = Path(path)
        data = file.read_bytes()
        cleaned = self.redact_bytes(data)
        if cleaned == data:
            return False
        file.write_bytes(cleaned)
        return True
