"""Removal of secrets from everything the gate writes: attachments, reports, terminal, errors.

A registered secret is removed in every form a deployment or a library may echo it in: raw,
URL-encoded, base64 (standard and URL-safe, at each of the three byte alignments it can have
inside a longer encoded text), hex, JSON-escaped and repr-escaped. The parts of a secret that
travel on their own are registered too: the password of a connection string and the signature
of a JWT. Text is always redacted whole, before anything cuts it to a length.

Pieces too: any run of ``PIECE_LEN`` (16) or more consecutive characters of a secret or of one
of its forms is masked wherever it appears (a secret split across lines or cut by a column
width leaves each long piece masked), the run masked to its end.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LEN",
    "PIECE_LEN",
    "SENSITIVE_HEADERS",
    "Redactor",
    "secret_forms",
    "secret_parts",
]

MASK = "[REDACTED]"
# \uXXXX outside the surrogates (a lone surrogate could not be written out as UTF-8), its
# backslash itself escaped any number of times (a JSON body quoted in a message).
_UNICODE_ESCAPE = re.compile(r"\\+u(?![dD][89a-fA-F])([0-9a-fA-F]{4})")
_ESCAPE_RUN = re.compile(r"(?:\\+u(?![dD][89a-fA-F])[0-9a-fA-F]{4})+")
#: Shorter values cannot be removed without destroying ordinary output; configuration refuses
#: them (environments.py), the redactor ignores them.
MIN_SECRET_LEN = 8
#: The shortest piece of a secret (or of a form of it) masked on its own.
PIECE_LEN = 16
# Pieces are found by sampling the text every _BLOCK characters: a run of PIECE_LEN - 1 or more
# characters holds at least one whole sample, which is then a substring of the form; each hit is
# extended both ways and masked if the run is long enough.
_BLOCK = PIECE_LEN // 2

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
    # libpq key/value connection strings: password=... or password='...'.
    r"(?P<kv_keep>\bpassword\s*=\s*)(?P<kv_val>'(?:[^'\\]|\\.)*'|[^\s'\"]+)",
]
_STATIC_FLAGS = re.IGNORECASE
# What each _STATIC pattern cannot match without (in the lower-cased text): a text is run only
# through the patterns it could match, most of it through none.
_STATIC_TRIGGERS: tuple[tuple[str, ...], ...] = (
    ("eyj",),
    ("://",),
    ("=",),
    ("apikey", "authorization", "api-key", "cookie"),
    ("password",),
)
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)$")
_KV_PASSWORD = re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE)


def secret_parts(value: str) -> list[str]:
    """``value`` and the parts of it that travel alone: a DSN's password, a JWT's signature."""
    parts = [value]
    text = value.strip()
    jwt = _JWT.match(text)
    if jwt:
        parts.append(jwt.group(1))
    if "://" in text:
        try:
            password = urlsplit(text).password
        except ValueError:
            password = None
        if password:
            parts += [password, unquote(password)]
    for match in _KV_PASSWORD.finditer(text):
        raw = match.group(1)
        parts.append(raw[1:-1].replace("\\'", "'") if raw.startswith("'") else raw)
    return [p for p in dict.fromkeys(parts) if len(p) >= MIN_SECRET_LEN]


def _base64_cores(data: bytes) -> set[str]:
    """The base64 characters that depend only on ``data``, at each alignment it can have."""
    cores: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode()
        start = -(-8 * shift // 6)  # first character without bits of the filler
        end = 8 * (shift + len(data)) // 6  # last character without bits of what follows
        core = encoded[start:end]
        cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def _percent_lower(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _json_ascii(text: str) -> str:
    return json.dumps(text)[1:-1]


def _json_unicode(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _json_slash(text: str) -> str:
    return json.dumps(text).replace("/", "\\/")[1:-1]  # some encoders escape "/"


def _repr_str(text: str) -> str:
    return repr(text)[1:-1]


def _repr_bytes(text: str) -> str:
    return repr(text.encode())[2:-1]


# Escapes a secret passes through on its way out: a JSON body, shown by pytest's repr, written
# into Allure's JSON or JUnit's XML. Applied up to twice (a JSON body in an assertion message).
_ESCAPES = (_json_ascii, _json_unicode, _json_slash, _repr_str, _repr_bytes, html.escape)


def secret_forms(secret: str) -> set[str]:
    """Every form of ``secret`` to remove (matching is case-insensitive: hex in either case)."""
    data = secret.encode()
    # Python's and JavaScript's URL encoders differ in what they leave unencoded.
    encoded = {quote(secret, safe=safe) for safe in ("", "/", "!'()*~")}
    encoded |= {quote_plus(secret, safe=safe) for safe in ("", "/")}
    encoded |= {_percent_lower(e) for e in encoded}
    forms = {secret, *encoded, binascii.hexlify(data).decode(), *_base64_cores(data)}
    layer = {secret, *encoded}
    for _ in range(2):
        layer = {escape(form) for form in layer for escape in _ESCAPES}
        forms |= layer
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def _alternation(literals: Iterable[str], depth: int = 0) -> str:
    """One regex for many literals, longest first, factored by their first characters (a few
    levels deep) so that the engine tries only the literals that can start at a position."""
    by_first: dict[str, list[str]] = {}
    ended = False
    for literal in sorted(set(literals), key=len, reverse=True):
        if not literal:
            ended = True
            continue
        by_first.setdefault(literal[0].lower(), []).append(literal)
    groups = []
    for first, group in sorted(by_first.items()):
        if depth < 3 and len(group) > 4:
            tails = _alternation([s[1:] for s in group], depth + 1)
        else:
            tails = "|".join(re.escape(s[1:]) for s in group)
        groups.append(f"{re.escape(first)}(?:{tails})")
    if ended:
        groups.append("")  # a literal ending here: after every longer one
    return "|".join(groups)


def _add_pieces(pieces: dict[str, list[tuple[str, int]]], forms: Iterable[str]) -> None:
    """Index every _BLOCK-long substring of each form long enough to have pieces."""
    for form in forms:
        low = form.lower()
        if len(low) < PIECE_LEN:
            continue
        for offset in range(len(low) - _BLOCK + 1):
            pieces.setdefault(low[offset : offset + _BLOCK], []).append((low, offset))


class Redactor:
    """Replaces secrets by ``[REDACTED]``; thread-safe. One pattern, compiled when first needed
    after a secret was added (compiling is the costly part: never once per add)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        #: Every _BLOCK-long substring of every form, lower-cased -> (form lower-cased, offset).
        self._pieces: dict[str, list[tuple[str, int]]] = {}
        #: The forms, lower-cased, for lower-cased text; None until needed after an add.
        self._forms_re: re.Pattern[str] | None = None
        #: The forms matched case-insensitively: for text whose lower case has another length.
        self._forms_fold_re: re.Pattern[str] | None = None
        self._static_res: dict[tuple[int, ...], re.Pattern[str]] = {}
        #: Binary data is read as latin-1 (one character per byte): the forms' UTF-8 bytes so
        #: read, as one pattern and as pieces like ``_pieces``.
        self._binary: tuple[re.Pattern[str], dict[str, list[tuple[str, int]]]] | None = None
        for secret in secrets:
            self.add_secret(secret)

    @property
    def secrets_count(self) -> int:
        return len(self._secrets)

    def add_secret(self, value: str | None) -> None:
        """Register a secret, its parts and all their forms; parts under 8 chars are ignored."""
        if not value:
            return
        forms: set[str] = set()
        for part in secret_parts(value):
            forms |= secret_forms(part)
        with self._lock:
            if forms <= self._secrets:
                return
            _add_pieces(self._pieces, forms - self._secrets)
            self._secrets |= forms
            self._forms_re = self._forms_fold_re = self._binary = None

    def _forms_pattern(self, folded: bool) -> re.Pattern[str] | None:
        """The registered forms as one pattern: lower-cased, for lower-cased text (several times
        faster than a case-insensitive match), or case-insensitive (``folded``)."""
        pattern = self._forms_fold_re if folded else self._forms_re
        if pattern is None and self._secrets:
            with self._lock:
                if folded:
                    pattern = re.compile(_alternation(self._secrets), re.IGNORECASE)
                    self._forms_fold_re = pattern
                else:
                    pattern = re.compile(_alternation({f.lower() for f in self._secrets}))
                    self._forms_re = pattern
        return pattern

    def _mask_forms(self, text: str, low: str) -> str:
        """Every registered form, matched regardless of case, masked."""
        if len(low) != len(text):  # a character whose lower case is longer: match folded
            pattern = self._forms_pattern(folded=True)
            return text if pattern is None else pattern.sub(MASK, text)
        pattern = self._forms_pattern(folded=False)
        if pattern is None:
            return text
        out: list[str] = []
        pos = 0
        for match in pattern.finditer(low):
            out += [text[pos : match.start()], MASK]
            pos = match.end()
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

    def _static_pattern(self, low: str) -> re.Pattern[str] | None:
        """The _STATIC patterns ``low`` could match, as one (compiled once per combination)."""
        wanted = tuple(
            i for i, triggers in enumerate(_STATIC_TRIGGERS) if any(t in low for t in triggers)
        )
        if not wanted:
            return None
        pattern = self._static_res.get(wanted)
        if pattern is None:
            pattern = re.compile("|".join(_STATIC[i] for i in wanted), _STATIC_FLAGS)
            self._static_res[wanted] = pattern
        return pattern

    def _binary_tables(self) -> tuple[re.Pattern[str], dict[str, list[tuple[str, int]]]] | None:
        tables = self._binary
        if tables is None and self._secrets:
            with self._lock:
                views = {form.encode().decode("latin-1") for form in self._secrets}
                pieces: dict[str, list[tuple[str, int]]] = {}
                _add_pieces(pieces, views)
                pattern = re.compile(_alternation(views), re.IGNORECASE)
                self._binary = tables = (pattern, pieces)
        return tables

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        groups = match.groupdict()
        for keep in ("url_keep", "q_keep", "h_keep", "kv_keep"):
            prefix = groups.get(keep)
            if prefix is not None:
                return prefix + MASK
        return MASK

    @staticmethod
    def _run_at(
        low: str, at: int, floor: int, pieces: dict[str, list[tuple[str, int]]]
    ) -> tuple[int, int]:
        """The longest run of a form through the sample at ``at`` (not before ``floor``)."""
        best = (at, at)
        for form, offset in pieces.get(low[at : at + _BLOCK], ()):
            k, j = at + _BLOCK, offset + _BLOCK
            while j < len(form) and k < len(low) and low[k] == form[j]:
                k, j = k + 1, j + 1
            b, i = at, offset
            while i > 0 and b > floor and low[b - 1] == form[i - 1]:
                b, i = b - 1, i - 1
            if k - b > best[1] - best[0]:
                best = (b, k)
        return best

    def _mask_pieces(
        self, text: str, pieces: dict[str, list[tuple[str, int]]] | None = None
    ) -> str:
        """Every run of PIECE_LEN or more characters of a form, masked."""
        pieces = self._pieces if pieces is None else pieces
        if not pieces or len(text) < PIECE_LEN:
            return text
        low = text.lower()
        if len(low) != len(text):  # a character whose lower case is longer: compare as is
            low = text
        out: list[str] = []
        pos = 0
        for at in range(0, len(text) - _BLOCK + 1, _BLOCK):
            if at < pos or low[at : at + _BLOCK] not in pieces:
                continue
            start, end = self._run_at(low, at, pos, pieces)
            if end - start >= PIECE_LEN:
                out += [text[pos:start], MASK]
                pos = end
        out.append(text[pos:])
        return "".join(out)

    def redact(self, text: str) -> str:
        if not text:
            return text
        cleaned = self._mask_forms(text, text.lower())
        low = cleaned.lower()
        static = self._static_pattern(low)
        if static is not None:
            cleaned = static.sub(self._replace, cleaned)
        cleaned = self._mask_pieces(cleaned)
        if "\\u" not in cleaned:
            return cleaned
        # A target may echo a secret as a run of \uXXXX escapes, in JSON that does not parse
        # too: a run that decodes to a secret is masked whole; the rest stays as it was.
        return _ESCAPE_RUN.sub(self._replace_escaped, cleaned)

    def _replace_escaped(self, match: re.Match[str]) -> str:
        run = match.group(0)
        decoded = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), run)
        return MASK if self._holds_secret(decoded) else run

    def _holds_secret(self, text: str) -> bool:
        """Whether ``text`` holds a form or matches a static pattern (redacting would change it)."""
        low = text.lower()
        if self._mask_forms(text, low) != text:
            return True
        static = self._static_pattern(low)
        return static is not None and static.search(text) is not None

    def redact_bytes(self, data: bytes) -> bytes:
        """Text is redacted fully; binary data loses every registered form found in it."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self._redact_binary(data)
        return self.redact(text).encode("utf-8")

    def _redact_binary(self, data: bytes) -> bytes:
        """Every form and every long piece of one, found the way text's are (one factored
        pattern, pieces sampled every few bytes): fast on a trace of megabytes, where one
        alternation of every piece took seconds per file."""
        tables = self._binary_tables()
        if tables is None:
            return data
        pattern, pieces = tables
        view = pattern.sub(MASK, data.decode("latin-1"))
        return self._mask_pieces(view, pieces).encode("latin-1")

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

    def one_line(self, text: object, limit: int = 300) -> str:
        """Redacted first line of ``text``, then cut to ``limit`` characters (in that order)."""
        redacted = self.redact(str(text))
        line = next((ln.strip() for ln in redacted.splitlines() if ln.strip()), "")
        return line if len(line) <= limit else line[: limit - 1] + "…"

    def comparison(self, op: str, left: object, right: object, limit: int = 2000) -> list[str]:
        """A failed comparison's explanation when a secret is in one of its values (else []):
        each value redacted whole, then cut. pytest's own diff cuts values first, and the cut
        piece of a secret is no longer a form the redactor knows."""
        sides = [repr(left), repr(right)]
        # A string redacted as itself, before repr escapes it once more.
        shown = [
            repr(self.redact(value)) if isinstance(value, str) else self.redact(side)
            for value, side in ((left, sides[0]), (right, sides[1]))
        ]
        if shown == sides:
            return []
        cut = [side if len(side) <= limit else side[: limit - 1] + "…" for side in shown]
        return [f"{cut[0]} {op} {cut[1]}", "(a secret was in these values: shown redacted)"]

    def redact_json(self, value: Any) -> Any:
        """A decoded JSON document with every string (and key) redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_json(v) for k, v in value.items()}
        return value

    def redact_file(self, path: str | Path) -> bool:
        """Rewrite ``path`` in place when it held a secret; returns whether it changed. A JSON
        file is also redacted decoded, string by string: what its own escaping hid is found."""
        file = Path(path)
        data = file.read_bytes()
        cleaned = self.redact_bytes(data)
        # Without a backslash, every decoded string is a stretch of the text just redacted.
        if file.suffix == ".json" and b"\\" in cleaned:
            cleaned = self._redact_json_bytes(cleaned)
        if cleaned == data:
            return False
        file.write_bytes(cleaned)
        return True

    def _redact_json_bytes(self, data: bytes) -> bytes:
        try:
            document = json.loads(data)
        except ValueError:
            return data
        # One pass over every string at once; string by string only where it found something.
        joined = "\n".join(_json_strings(document))
        if self.redact(joined) == joined:
            return data
        cleaned = self.redact_json(document)
        if cleaned == document:
            return data
        return json.dumps(cleaned, ensure_ascii=False).encode("utf-8")


def _json_strings(value: Any) -> Iterator[str]:
    """Every string of a decoded JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item)
