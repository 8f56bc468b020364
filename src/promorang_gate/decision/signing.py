"""A gate file's signature: an HMAC-SHA256 over its content with ``GATE_SIGNING_KEY``.

CI sets a key per run (from a secret), so only the run that judged can have written a file that
``promorang-gate verdict`` accepts: a file edited by hand, copied from another run or written
without the key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["KEY_VARIABLE", "PREFIX", "sign_text", "signature_of", "signing_key"]

KEY_VARIABLE = "GATE_SIGNING_KEY"
PREFIX = "hmac-sha256:"


def signing_key(environ: Mapping[str, str]) -> str | None:
    return environ.get(KEY_VARIABLE) or None


def _canonical(data: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in data.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature_of(data: Mapping[str, Any], key: str) -> str:
    digest = hmac.new(key.encode(), _canonical(data), hashlib.sha256).hexdigest()
    return PREFIX + digest


def sign_text(text: str, key: str) -> str:
    """The gate file ``text`` (JSON) with its signature added."""
    data = json.loads(text)
    data["signature"] = signature_of(data, key)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def valid(data: Mapping[str, Any], key: str) -> bool:
    given = data.get("signature")
    return isinstance(given, str) and hmac.compare_digest(given, signature_of(data, key))
