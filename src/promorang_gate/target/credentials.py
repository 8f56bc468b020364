"""Before any test runs: are the env's keys and tokens the target's own?

A wrong service-role key, creator token or database password would otherwise surface as a run
of failing product checks (a block, exit 1) with storage tracebacks. Each credential is proven
with one read, every request and connection bounded by ``PROBE_TIMEOUT_S``:

- service-role key: ``GET /storage/v1/bucket/<bucket>`` (an authenticated storage read);
- creator token and the other user's token: ``GET /auth/v1/user`` (GoTrue's own check);
- database URL: one connection and ``select 1``.

A credential the target refuses is a usage error (exit 4) naming its variable. An answer that
says nothing about the credential (a 5xx, a missing bucket) is left to the checks to judge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx

from promorang_gate.errors import ConfigError
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import Target
from promorang_gate.target.signin import unverified_claims
from promorang_gate.target.vercel_bypass import VercelBypass

__all__ = ["PROBE_TIMEOUT_S", "check_credentials"]

#: The bound of each probe; the three together stay under two seconds on a healthy target.
PROBE_TIMEOUT_S = 0.6
#: Statuses that mean "this credential is not accepted here".
REJECTED = frozenset({400, 401, 403})
#: Storage answers every error with HTTP 400 and the real status in its body: a missing bucket
#: ("404") says nothing about the key, a refused one says "401" or "403".
STORAGE_REFUSED = frozenset({"401", "403"})


def _jwt_role(key: str) -> str | None:
    """The ``role`` claim of a JWT, read without verifying (None when it is no JWT)."""
    if key.startswith("sb_publishable_"):
        return "anon"
    role = unverified_claims(key).get("role")
    return role if isinstance(role, str) else None


def _storage_refused(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("statusCode")) in STORAGE_REFUSED


def _variable(target: Target, key: str) -> str:
    return f"GATE_{target.name.upper().replace('-', '_')}_{key.upper()}"


def _get(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response | None:
    """The answer, or None when there was none in time (reachability is preflight's job)."""
    try:
        return client.get(url, headers=headers)
    except httpx.HTTPError:
        return None


def _service_role_key(target: Target, client: httpx.Client) -> str | None:
    key = target.service_role_key
    role = _jwt_role(key)
    if role is not None and role != "service_role":
        return (
            f"{_variable(target, 'service_role_key')} is a key of role {role!r}, not the"
            " service-role key: give the service-role key of the Supabase project (Settings → API)"
        )
    url = f"{target.supabase_url}/storage/v1/bucket/{target.bucket}"
    response = _get(client, url, {"apikey": key, "Authorization": f"Bearer {key}"})
    if response is not None and _storage_refused(response):
        return (
            f"{_variable(target, 'service_role_key')} is refused by {target.supabase_url}"
            f" (storage answered {response.status_code}): give the service-role key of that"
            " Supabase project (Settings → API), not the anon key or another project's"
        )
    return None


def _user_token(target: Target, client: httpx.Client, key: str) -> str | None:
    token = getattr(target, key)
    if not token:
        return None
    url = f"{target.supabase_url}/auth/v1/user"
    headers = {"apikey": target.service_role_key, "Authorization": f"Bearer {token}"}
    response = _get(client, url, headers)
    if response is not None and response.status_code in REJECTED:
        return (
            f"{_variable(target, key)} is refused by {target.supabase_url}/auth/v1/user"
            f" ({response.status_code}): the token is expired or of another project;"
            " sign in again and give the new access token"
        )
    return None


def _database(target: Target, redactor: Redactor) -> str | None:
    if not target.database_url:
        return None
    import psycopg

    try:
        with psycopg.connect(
            target.database_url, connect_timeout=max(1, round(PROBE_TIMEOUT_S * 2))
        ) as conn:
            conn.execute("select 1")
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return (
            f"{_variable(target, 'database_url')} does not connect:"
            f" {redactor.one_line(first, 300)}; give the database URL of the env's project"
            " (user, password, host, port, database)"
        )
    return None


def check_credentials(
    targets: Iterable[Target],
    client_factory: Callable[[Target], httpx.Client] | None = None,
) -> None:
    """Raise ConfigError naming every credential a target refuses (one line)."""
    problems: list[str] = []
    for target in targets:
        if not target.preflight:
            continue
        redactor = Redactor(target.secret_values())
        client = (client_factory or _client)(target)
        with client:
            found = [
                _service_role_key(target, client),
                _user_token(target, client, "creator_token"),
                _user_token(target, client, "other_user_token"),
                _database(target, redactor),
            ]
        problems += [redactor.redact(p) for p in found if p]
    if problems:
        raise ConfigError("; ".join(problems))


def _client(target: Target) -> httpx.Client:
    """Reads only, bounded, no proxies from the environment, no redirects to elsewhere."""
    from promorang_gate.target.http import GateHttp

    http = GateHttp(
        target.name,
        None,
        PROBE_TIMEOUT_S,
        False,  # a probe never writes, whatever the env allows
        Redactor(target.secret_values()),
        attach=False,
        deadline_s=PROBE_TIMEOUT_S * 2,
        max_body_bytes=64 * 1024,
        vercel_bypass=VercelBypass.of(target),
        # A probe's short deadline says nothing of a slow but working origin: its timeouts
        # must not count towards giving the origin up for the run.
        use_breaker=False,
    )
    return http.client
