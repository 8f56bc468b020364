"""The Supabase local-development JWT secret, its demo keys, and helpers to sign and verify."""

from __future__ import annotations

import time
from typing import Any

import jwt

from .errors import SandboxError

JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9"
    ".CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
SERVICE_ROLE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0"
    ".EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
)
ISSUER = "http://127.0.0.1/auth/v1"
LEEWAY_S = 30


class InvalidToken(SandboxError):
    """A JWT that is malformed, badly signed or expired."""

    def __init__(self, message: str, *, claims_invalid: bool = False) -> None:
        super().__init__(message)
        # True when the token decoded but its claims failed (expired, not yet valid): PGRST303.
        self.claims_invalid = claims_invalid


def sign(claims: dict[str, Any]) -> str:
    """HS256-sign ``claims`` with the sandbox secret."""
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


# Tokens verified earlier: a run sends the same few keys and tokens with nearly every request,
# and the gateway and the API each verify them. One is accepted again without decoding while
# the time claims PyJWT checks still hold (with the same leeway); outside that window it is
# verified afresh, and fails as it would have.
_VERIFIED: dict[str, tuple[float, float, dict[str, Any]]] = {}
_VERIFIED_MAX = 1024


def verify(token: str) -> dict[str, Any]:
    """Decode an HS256 token, checking exp/iat/nbf with 30 s leeway (aud is not checked)."""
    known = _VERIFIED.get(token)
    if known is not None and known[0] <= time.time() < known[1]:
        return dict(known[2])
    claims = _decode(token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[token] = (*_valid_window(claims), claims)
    return dict(claims)


def _valid_window(claims: dict[str, Any]) -> tuple[float, float]:
    """When PyJWT would accept these claims: from iat and nbf, until exp (each with leeway)."""
    starts = [float(claims[k]) - LEEWAY_S for k in ("iat", "nbf") if k in claims]
    end = float(claims["exp"]) + LEEWAY_S if "exp" in claims else float("inf")
    return max(starts, default=float("-inf")), end


def _decode(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            JWT_SECRET,
            algorithms=["HS256"],
            leeway=LEEWAY_S,
            options={"verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("JWT expired", claims_invalid=True) from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("JWT signature verification failed") from exc
    except jwt.DecodeError as exc:
        raise InvalidToken("JWT could not be decoded") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"JWT invalid: {exc}", claims_invalid=True) from exc
    return claims


def user_token(sub: str, email: str, ttl_s: int = 86400) -> str:
    """A GoTrue-like access token for user ``sub``."""
    now = int(time.time())
    return sign(
        {
            "aud": "authenticated",
            "role": "authenticated",
            "sub": sub,
            "email": email,
            "phone": "",
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "aal": "aal1",
            "is_anonymous": False,
            "iat": now,
            "exp": now + ttl_s,
            "iss": ISSUER,
        }
    )
