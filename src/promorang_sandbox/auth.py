"""requireAuth of the platform: the Supabase user behind the bearer token, or 401; and the two
ways a deployment gets it wrong (faults ``auth_unverified`` and ``auth_demo_bypass``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request

from . import jwtkeys
from .api_common import UUID_RE, fail

if TYPE_CHECKING:
    from .api_state import PromorangApi

__all__ = ["DEMO_PREFIXES", "authenticate"]

# CONTRACT §6.20: tokens whose subject starts so are decoded without verification.
DEMO_PREFIXES = ("demo-", "a0000000", "00000000-0000-")


async def authenticate(request: Request, api: PromorangApi) -> dict[str, Any]:
    """The verified Supabase user claims of the request, or 401 like requireAuth."""
    token = _bearer(request)
    faults = api.config.faults
    if "auth_demo_bypass" in faults:
        sub = _unverified(token).get("sub")
        if isinstance(sub, str) and sub.startswith(DEMO_PREFIXES):
            request.state.auth_mode = "demo-bypass"
            return {**_unverified(token), "role": "authenticated"}
    try:
        claims = jwtkeys.verify(token)
    except jwtkeys.InvalidToken:
        # auth_unverified: the signature is not checked, only that the subject is a user.
        claims = _unverified(token) if "auth_unverified" in faults else {}
        if not (claims and await _known_user(api, claims.get("sub"))):
            raise fail(401, "Invalid or expired token", code="INVALID_TOKEN") from None
    sub = claims.get("sub")
    if claims.get("role") != "authenticated" or not isinstance(sub, str) or not UUID_RE.match(sub):
        raise fail(401, "Invalid or expired token", code="INVALID_TOKEN")
    return dict(claims)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise fail(401, "Access token required", code="MISSING_TOKEN")
    return token.strip()


def _unverified(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}
    return claims


async def _known_user(api: PromorangApi, sub: Any) -> bool:
    if not (isinstance(sub, str) and UUID_RE.match(sub)):
        return False
    resp = await api.rest("GET", "users", params={"id": f"eq.{sub}", "select": "id"})
    return resp.status_code == 200 and bool(resp.json())
