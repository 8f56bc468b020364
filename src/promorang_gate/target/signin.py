"""Tokens the way Supabase issues them: an access token lives an hour, so one stored as a CI
secret is dead by the next release.

With ``GATE_<ENV>_CREATOR_EMAIL`` and ``GATE_<ENV>_CREATOR_PASSWORD`` (likewise
``OTHER_USER_*``) the gate signs the test user in itself, through supabase-py's
``auth.sign_in_with_password``, once per run, before any test: the fresh token takes the place of
``…_TOKEN`` and is redacted like every secret. A static ``…_TOKEN`` is still accepted; its
expiry is checked here, so an expired one is one usage error naming the variable, not a row of
401s.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import replace
from typing import Any

import httpx
import pytest

from promorang_gate.errors import ConfigError
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.bounded import shared_ssl_context
from promorang_gate.target.environments import EnvSettings, Target

__all__ = [
    "EXPIRY_MARGIN_S",
    "REFRESH_MARGIN_S",
    "SIGN_IN_KEYS",
    "CreatorAuth",
    "sign_in_users",
    "signed_in_tokens",
    "token_expiry",
    "with_tokens",
]

#: A static token must stay valid at least this long: a run takes minutes, not seconds.
EXPIRY_MARGIN_S = 300
#: A signed-in token is renewed when it has less than this left (a request takes seconds).
REFRESH_MARGIN_S = 60
USERS = ("creator", "other_user")
#: The secrets a sign-in reads. Signing in is a POST to the env's auth server, so an env that
#: allows no writes (production) takes its users as static tokens only.
SIGN_IN_KEYS = tuple(f"{user}_{part}" for user in USERS for part in ("email", "password"))


def _variable(env: str, key: str) -> str:
    return f"GATE_{env.upper().replace('-', '_')}_{key.upper()}"


def unverified_claims(token: str) -> dict[str, object]:
    """A JWT's claims, read without verifying it (empty when it is no JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def token_expiry(token: str) -> int | None:
    """The ``exp`` claim of a JWT, read without verifying it; None when it has none."""
    exp = unverified_claims(token).get("exp")
    return int(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _check_static(env: str, key: str, token: str, now: float) -> None:
    exp = token_expiry(token)
    if exp is None or exp - now >= EXPIRY_MARGIN_S:
        return
    user = key.removesuffix("_token")
    when = dt.datetime.fromtimestamp(exp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    state = "expired" if exp <= now else f"expires within {EXPIRY_MARGIN_S // 60} minutes"
    raise ConfigError(
        f"{_variable(env, key)} {state} ({when}): Supabase access tokens live an hour; set"
        f" {_variable(env, user + '_email')} and {_variable(env, user + '_password')} so the"
        " gate signs the user in itself on every run"
    )


def _sign_in(env: EnvSettings, user: str, email: str, password: str) -> str:
    url = str(env.values.get("supabase_url", ""))
    key = env.secrets.get("service_role_key") or ""
    timeout = float(env.values.get("request_timeout_s", 10.0))  # type: ignore[arg-type]
    return _sign_in_at(env.name, user, (url, key, timeout), email, password)


def _sign_in_at(env: str, user: str, at: tuple[str, str, float], email: str, password: str) -> str:
    """A fresh access token for ``email`` from the auth server at ``at`` (URL, key, timeout)."""
    from supabase import create_client
    from supabase.lib.client_options import SyncClientOptions
    from supabase_auth.errors import AuthError

    url, key, timeout = at[0].rstrip("/"), at[1], at[2]
    where = f"{_variable(env, user + '_email')}: signing in at {url}/auth/v1"
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=shared_ssl_context()) as http:
        options = SyncClientOptions(
            httpx_client=http, auto_refresh_token=False, persist_session=False
        )
        try:
            client = create_client(url, key, options=options)
            answer: Any = client.auth.sign_in_with_password({"email": email, "password": password})
        except AuthError as exc:
            raise ConfigError(f"{where} failed: {exc.message}") from None
        except (httpx.HTTPError, OSError) as exc:
            raise ConfigError(f"{where} failed: {type(exc).__name__}") from None
    session = getattr(answer, "session", None)
    token = getattr(session, "access_token", None)
    if not isinstance(token, str) or not token:
        raise ConfigError(f"{where} answered no session")
    return token


class CreatorAuth(httpx.Auth):
    """The creator's token on the gate's API client, kept alive through a long run.

    A token signed in from ``GATE_<ENV>_CREATOR_EMAIL``/``_PASSWORD`` is renewed (a new
    sign-in) when it nears its expiry, and once more when the API answers 401 to it while it
    is expired or the answer says so; the request is then sent again, once. A static
    ``…_CREATOR_TOKEN`` cannot be renewed: when it expires mid-run the run stops with a usage
    error naming the variable, not with a row of 401s. A request carrying other credentials
    (another user's token, none at all) is left as it is."""

    requires_response_body = True

    def __init__(
        self,
        target: Target,
        redactor: Redactor | None = None,
        *,
        margin_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._target = target
        self._redactor = redactor
        self._margin_s = REFRESH_MARGIN_S if margin_s is None else margin_s
        self._clock = clock
        self._lock = threading.Lock()
        self.token = target.creator_token or ""
        self._issued = {self.token}
        #: Sign-ins this client made to renew the token.
        self.renewals = 0

    @property
    def _can_sign_in(self) -> bool:
        return bool(self._target.creator_email and self._target.creator_password)

    def _left_s(self, token: str) -> float | None:
        exp = token_expiry(token)
        return None if exp is None else exp - self._clock()

    def _renew(self, stale: str) -> str:
        """A fresh token, unless another thread renewed ``stale`` meanwhile."""
        with self._lock:
            if self.token != stale:
                return self.token
            if not self._can_sign_in:
                self._stop(stale)
            target = self._target
            at = (target.supabase_url, target.service_role_key, target.request_timeout_s)
            email, password = str(target.creator_email), str(target.creator_password)
            fresh = _sign_in_at(target.name, "creator", at, email, password)
            if self._redactor is not None:
                self._redactor.add_secret(fresh)
            self.token = fresh
            self._issued.add(fresh)
            self.renewals += 1
            return fresh

    def _stop(self, token: str) -> None:
        exp = token_expiry(token) or 0
        when = dt.datetime.fromtimestamp(exp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        env = self._target.name
        pytest.exit(
            f"{_variable(env, 'creator_token')} expired during the run ({when}): Supabase access"
            f" tokens live an hour; set {_variable(env, 'creator_email')} and"
            f" {_variable(env, 'creator_password')} so the gate signs the creator in itself and"
            " renews the token",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )

    def _ours(self, header: str | None) -> str | None:
        """The token of an ``Authorization`` header when this client issued it; None for a
        request sent without a token (an anonymous read stays anonymous) or another's."""
        token = header.removeprefix("Bearer ") if header else None
        return token if token and token in self._issued else None

    def _expired_answer(self, token: str, body: bytes) -> bool:
        left = self._left_s(token)
        if left is not None and left <= 0:
            return True
        return self._can_sign_in and b"expired" in body.lower()

    def resend_with(self, header: str | None, status: int, body: bytes) -> str | None:
        """The token to send a request again with, once: when it carried this client's token
        (``header``, its ``Authorization``) and was answered 401 while that token is expired,
        or the answer (``body``, as read: nothing is decoded for this) says so. None when the
        answer stands; a static token that expired stops the run. For every client of the
        creator's token (this auth flow, the contract's requests session): the rule is one."""
        token = self._ours(header)
        if status != 401 or token is None or not self._expired_answer(token, body):
            return None
        return self._renew(token)

    def current(self) -> str:
        """The token to send now, renewed first when it nears its expiry; for clients that
        take no httpx auth flow (the contract's requests session)."""
        token = self.token
        left = self._left_s(token) if token else None
        margin = self._margin_s if self._can_sign_in else 0.0
        if left is not None and left <= margin:
            token = self._renew(token)
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.token or self._ours(request.headers.get("Authorization")) is None:
            yield request
            return
        request.headers["Authorization"] = f"Bearer {self.current()}"
        response = yield request
        header = request.headers["Authorization"]
        fresh = self.resend_with(header, response.status_code, response.content)
        if fresh is not None:
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request


def sign_in_users(
    settings: Mapping[str, EnvSettings], now: float | None = None
) -> dict[str, EnvSettings]:
    """``settings`` with a fresh token for every user given by email and password, and every
    static token checked for expiry; ConfigError naming the variable otherwise."""
    moment = time.time() if now is None else now
    result: dict[str, EnvSettings] = {}
    for name, env in settings.items():
        if env.embedded:  # the sandbox hands out its own users' tokens
            result[name] = env
            continue
        secrets = dict(env.secrets)
        sources = dict(env.sources)
        for user in USERS:
            email, password = secrets.get(f"{user}_email"), secrets.get(f"{user}_password")
            if bool(email) != bool(password):
                given, lacking = ("email", "password") if email else ("password", "email")
                raise ConfigError(
                    f"{_variable(name, f'{user}_{given}')} is set without"
                    f" {_variable(name, f'{user}_{lacking}')}: the gate signs in with both"
                )
            if email and password and not env.values.get("writes_allowed"):
                raise ConfigError(
                    f"{_variable(name, f'{user}_email')}: env '{name}' allows no writes, and a"
                    " sign-in is a POST to its auth server: give a fresh"
                    f" {_variable(name, f'{user}_token')} instead"
                )
            if email and password:
                secrets[f"{user}_token"] = _sign_in(env, user, email, password)
                sources[f"{user}_token"] = f"signed in:{_variable(name, user + '_email')}"
            elif secrets.get(f"{user}_token"):
                _check_static(name, f"{user}_token", str(secrets[f"{user}_token"]), moment)
        result[name] = replace(env, secrets=secrets, sources=sources)
    return result


def signed_in_tokens(settings: Mapping[str, EnvSettings]) -> dict[str, dict[str, str]]:
    """The tokens this run signed in for, per env: what xdist workers get instead of signing
    in again (one token per user and run, and one redactor that knows it)."""
    shared: dict[str, dict[str, str]] = {}
    for name, env in settings.items():
        for user in USERS:
            key = f"{user}_token"
            token = env.secrets.get(key)
            if token and str(env.sources.get(key, "")).startswith("signed in"):
                shared.setdefault(name, {})[key] = token
    return shared


def with_tokens(
    settings: Mapping[str, EnvSettings], shared: Mapping[str, Mapping[str, str]]
) -> dict[str, EnvSettings]:
    """``settings`` with the tokens the controller signed in for (see :func:`signed_in_tokens`)."""
    result = dict(settings)
    for name, tokens in shared.items():
        env = result.get(name)
        if env is not None:
            secrets = {**env.secrets, **tokens}
            sources = {**env.sources, **{k: "signed in" for k in tokens}}
            result[name] = replace(env, secrets=secrets, sources=sources)
    return result
