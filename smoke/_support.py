"""What the smoke tests share: payloads and URL rules.

Reading back what the deployment stored is the engine's (``gate_stored``, see
``promorang_gate.target.stored``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from promorang_gate.cleanup.tags import object_tag, tagged_png, tagged_title

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# A local address with a port is a dev server baked into a build; a bare "http://localhost" is
# what libraries carry (URL parsers, dev warnings), not a call target.
LOCAL_ADDRESS = re.compile(r"(?:https?:)?//(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\]):\d+")


#: A real 1x1 PNG whose tEXt chunk carries its marker: every upload's bytes are unique, and an
#: upload's bytes carry the run tag even where the API names the stored object itself.
png_bytes = tagged_png


@dataclass(frozen=True)
class UploadProbe:
    file_name: str
    data: bytes

    def payload(self) -> dict[str, str]:
        return {
            "fileName": self.file_name,
            "fileType": "image/png",
            "fileData": base64.b64encode(self.data).decode(),
        }


def new_upload(run_id: str, purpose: str) -> UploadProbe:
    """An upload whose file name starts with the run tag, so the janitor can find leftovers."""
    unique = uuid.uuid4().hex[:8]
    name = f"{object_tag(run_id)}-{purpose}-{unique}.png"
    return UploadProbe(file_name=name, data=png_bytes(name))


def content_payload(run_id: str, title: str = "Smoke Test Content") -> dict[str, Any]:
    """The setup guide's smoke payload, tagged with the run id."""
    return {
        "platform": "instagram",
        "title": tagged_title(title, run_id),
        "description": "Created by the promorang-gate smoke suite; removed at teardown.",
        "platform_url": "https://instagram.com/p/promorang-gate-smoke",
        "total_shares": 100,
        "share_price": 0.1,
    }


def public_object_prefix(supabase_url: str, bucket: str) -> str:
    return f"{supabase_url.rstrip('/')}/storage/v1/object/public/{bucket}/"


def object_path_of(image_url: str, supabase_url: str, bucket: str) -> str | None:
    """The object key inside the bucket, or None when the URL is not a public object URL."""
    prefix = public_object_prefix(supabase_url, bucket)
    return image_url[len(prefix) :] if image_url.startswith(prefix) else None


def same_host(url: str, other: str) -> bool:
    return urlsplit(url).netloc.lower() == urlsplit(other).netloc.lower()


def local_addresses(text: str, allowed: Sequence[str]) -> list[str]:
    """Loopback host:port addresses in `text` other than the allowed base URLs."""
    for base in allowed:
        text = text.replace(base.rstrip("/"), "")
    return sorted({m.group(0) for m in LOCAL_ADDRESS.finditer(text)})


def module_script_src(html: str) -> str | None:
    match = re.search(r"<script[^>]*type=[\"']module[\"'][^>]*src=[\"']([^\"']+)[\"']", html)
    if match is None:
        match = re.search(r"<script[^>]*src=[\"']([^\"']+)[\"'][^>]*type=[\"']module[\"']", html)
    return match.group(1) if match else None


def env_variable(env: str, key: str) -> str:
    """The variable that sets ``key`` for ``env``, e.g. ``GATE_STAGING_OTHER_USER_TOKEN``."""
    return f"GATE_{env.upper().replace('-', '_')}_{key.upper()}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, read without verifying it (None when it is no JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def forged_token(claims: dict[str, Any], key: bytes | None = None) -> str:
    """A JWT the platform never issued: unsigned (alg "none") or HS256 with the wrong ``key``."""
    header = {"alg": "none" if key is None else "HS256", "typ": "JWT"}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def ownership_problems(
    answers: Sequence[tuple[str, int, object, str | None]], title: str
) -> list[str]:
    """What went wrong when someone else wrote to the creator's item: ``answers`` holds, per
    write in the order sent, (method, status, the body's ``success``, the stored title after
    it, None once the row is gone). What happened to the stored row comes first in the list: a
    DELETE that removed it says more than the 500 of the PUT before it (build H)."""
    changed: list[str] = []
    answered: list[str] = []
    before = title
    for method, status, success, stored in answers:
        request = f"{method} /api/content/{{id}} of the creator's item with another user's token"
        if stored is None:
            changed.append(f"{request} answered {status} and deleted the item")
            break
        if stored != before:
            changed.append(f"{request} answered {status} and changed its title to {stored!r}")
        elif status not in (403, 404):
            answered.append(f"{request} answered {status}, expected 403 or 404")
        elif success is not False:
            answered.append(f"{request} answered {status} without success: false")
        before = stored
    return changed + answered


def form_field_problem(path: str, key: str, label: str, verb: str, error: str) -> str:
    """The reason when the browser check cannot use a field of the Create form: which label a
    user would read, which profile setting names it, and the browser's own first line (build
    B's form has labels tied to no input, so a label-finding user finds none)."""
    lines = error.strip().splitlines()
    first = lines[0] if lines else "no answer"
    what = "button" if key == "submit" else "field"
    return (
        f"the Create form at {path} has no {what} labelled {label!r} to {verb}"
        f" (the profile's create_form.{key} names it): {first}"
    )
