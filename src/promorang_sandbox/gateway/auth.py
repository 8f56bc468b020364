"""Who is calling: the JWT of a request, and the per-transaction settings Postgres sees."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from ..jwtkeys import ANON_KEY, SERVICE_ROLE_KEY, InvalidToken, verify

ANON_ROLE = "anon"
API_ROLES = frozenset({"anon", "authenticated", "service_role"})
# The opaque keys of newer CLIs, mapped the way the CLI's Kong maps them.
OPAQUE_KEYS = {
    "sb_publishable_": ANON_KEY,
    "sb_secret_": SERVICE_ROLE_KEY,
}


@dataclass(frozen=True)
class Auth:
    """The caller: its database role and claims; ``error`` is set when its token was rejected."""

    role: str
    claims: dict[str, Any] = field(default_factory=dict)
    error: InvalidToken | None = None

    @property
    def sub(self) -> str:
        value = self.claims.get("sub")
        return value if isinstance(value, str) else ""

    def as_anon(self) -> Auth:
        return Auth(role=ANON_ROLE, claims={"role": ANON_ROLE})


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """``Authorization: Bearer`` else ``apikey`` (header names are case-insensitive)."""
    token: str | None = None
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        token = value.strip()
    if token is None or token.startswith("sb_"):
        token = headers.get("apikey") or token
    if token:
        for prefix, key in OPAQUE_KEYS.items():
            if token.startswith(prefix):
                return key
    return token or None


def authenticate(headers: Mapping[str, str]) -> Auth:
    """Verify the request's token; no token means ``anon``; a bad one sets ``error``."""
    token = bearer_token(headers)
    if token is None:
        return Auth(role=ANON_ROLE, claims={"role": ANON_ROLE})
    try:
        claims = verify(token)
    except InvalidToken as exc:
        return Auth(role=ANON_ROLE, claims={"role": ANON_ROLE}, error=exc)
    role = claims.get("role")
    if not isinstance(role, str) or not role:
        role = ANON_ROLE
    if role not in API_ROLES:
        # The gateway's login role could become anyone: only the API roles may be switched to.
        error = InvalidToken(f'role "{role}" is not allowed', claims_invalid=True)
        return Auth(role=ANON_ROLE, claims={"role": ANON_ROLE}, error=error)
    claims = {**claims, "role": role}
    return Auth(role=role, claims=claims)


async def set_scope(
    conn: AsyncConnection[Any],
    auth: Auth,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> None:
    """Switch the current transaction to the caller's role and expose its claims (set local)."""
    calls, params = scope_calls(auth, method=method, path=path, headers=headers, extra=extra)
    await conn.execute(f"select {calls}".encode(), params)


def scope_calls(
    auth: Auth,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    """``set_scope``'s ``set_config`` calls and their parameters, for a statement of its own or
    one that does more in the same round trip."""
    settings: list[tuple[str, str]] = [
        ("role", auth.role),
        ("request.jwt.claims", json.dumps(auth.claims)),
        ("request.jwt.claim.sub", auth.sub),
        ("request.jwt.claim.role", auth.role),
        ("request.method", method),
        ("request.path", path),
        ("request.headers", json.dumps({k.lower(): v for k, v in headers.items()})),
    ]
    settings += list((extra or {}).items())
    calls = ", ".join("set_config(%s, %s, true)" for _ in settings)
    return calls, [item for pair in settings for item in pair]
