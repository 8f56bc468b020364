"""The slice of GoTrue (Supabase Auth) a client needs to sign its users in, on the sandbox's
database: ``POST /auth/v1/token?grant_type=password|refresh_token`` and ``GET /auth/v1/user``.

Passwords are bcrypt hashes in ``auth.users.encrypted_password`` (pgcrypto's ``crypt``), refresh
tokens rows of ``auth.refresh_tokens`` used once, as GoTrue rotates them; access tokens are the
sandbox's JWTs (an hour, as a Supabase project issues them).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..jwtkeys import InvalidToken, user_token, verify
from .auth import bearer_token

__all__ = ["ACCESS_TOKEN_TTL_S", "gotrue_routes"]

ACCESS_TOKEN_TTL_S = 3600


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": status, "error_code": code, "msg": message}, status_code=status)


def _user(user_id: str, email: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": email,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "identities": [],
        "created_at": "2025-10-27T00:00:00Z",
        "updated_at": "2025-10-27T00:00:00Z",
        "is_anonymous": False,
    }


async def _session(conn: Any, user_id: str, email: str) -> Response:
    refresh = secrets.token_urlsafe(24)
    await conn.execute(
        "insert into auth.refresh_tokens (token, user_id) values (%s, %s)", (refresh, user_id)
    )
    now = int(time.time())
    body = {
        "access_token": user_token(user_id, email, ttl_s=ACCESS_TOKEN_TTL_S),
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL_S,
        "expires_at": now + ACCESS_TOKEN_TTL_S,
        "refresh_token": refresh,
        "user": _user(user_id, email),
    }
    return JSONResponse(body)


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def token(request: Request) -> Response:
    grant = request.query_params.get("grant_type")
    body = await _body(request)
    pool = request.app.state.pool
    async with pool.connection() as conn:
        if grant == "password":
            email, password = body.get("email"), body.get("password")
            if not (isinstance(email, str) and isinstance(password, str)):
                return _error(400, "validation_failed", "missing email or phone")
            cur = await conn.execute(
                "select id::text, email from auth.users where lower(email) = lower(%s)"
                " and encrypted_password is not null"
                " and encrypted_password = crypt(%s, encrypted_password)",
                (email, password),
            )
            row = await cur.fetchone()
        elif grant == "refresh_token":
            refresh = body.get("refresh_token")
            if not isinstance(refresh, str):
                return _error(400, "validation_failed", "refresh_token required")
            cur = await conn.execute(
                "update auth.refresh_tokens t set revoked = true from auth.users u"
                " where t.token = %s and not t.revoked and u.id = t.user_id"
                " returning u.id::text, u.email",
                (refresh,),
            )
            row = await cur.fetchone()
            if row is None:
                return _error(400, "refresh_token_not_found", "Invalid Refresh Token")
        else:
            return _error(400, "unsupported_grant_type", f"unsupported grant_type {grant!r}")
        if row is None:
            return _error(400, "invalid_credentials", "Invalid login credentials")
        return await _session(conn, row[0], row[1])


async def user(request: Request) -> Response:
    raw = bearer_token(request.headers)
    try:
        claims = verify(raw or "")
    except InvalidToken as exc:
        return _error(403, "bad_jwt", f"invalid JWT: {exc}")
    sub = claims.get("sub")
    if claims.get("role") != "authenticated" or not isinstance(sub, str):
        return _error(403, "bad_jwt", "invalid claim: missing sub claim")
    async with request.app.state.pool.connection() as conn:
        cur = await conn.execute(
            "select id::text, email from auth.users where id::text = %s", (sub,)
        )
        row = await cur.fetchone()
    if row is None:
        return _error(404, "user_not_found", "User from sub claim in JWT does not exist")
    return JSONResponse(_user(row[0], row[1]))


def gotrue_routes() -> list[Route]:
    return [
        Route("/token", token, methods=["POST"]),
        Route("/user", user, methods=["GET"]),
    ]
