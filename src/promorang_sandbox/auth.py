"""requireAuth of the platform: the Supabase user behind the bearer token, or 401."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from . import jwtkeys
from .api_common import UUID_RE, fail

__all__ = ["require_user"]


def require_user(request: Request) -> dict[str, Any]:
    """The verified Supabase user claims, or 401 like requireAuth."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise fail(401, "Access token required", code="MISSING_TOKEN")
    try:
        claims = jwtkeys.verify(token.strip())
    except jwtkeys.InvalidToken:
        raise fail(401, "Invalid or expired token", code="INVALID_TOKEN") from None
    sub = claims.get("sub")
    if claims.get("role") != "authenticated" or not isinstance(sub, str) or not UUID_RE.match(sub):
        raise fail(401, "Invalid or expired token", code="INVALID_TOKEN")
    return dict(claims)
