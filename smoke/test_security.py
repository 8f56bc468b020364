"""Security smoke (CONTRACT.md §6.11, §6.20): only the creator's own, correctly signed token
may change the creator's content. Each check sends a forged write against an item made for it
and reads the stored row back: a refusal that still changed the row is a failure."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from _support import UUID_PATTERN, env_variable, forged_token, jwt_claims, ownership_problems
from promorang_gate.cleanup.tags import tagged_title
from promorang_gate.target.stored import StoredState

pytestmark = pytest.mark.security

# Subjects the platform's requireAuth decodes without verifying (§6.20).
DEMO_SUBJECTS = (
    "demo-gate-probe",
    "a0000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000001",
)
WRONG_KEY = b"not-the-project-jwt-secret-but-long-enough-for-hs256"


@pytest.fixture
def creators_item(
    gate_target: Any, gate_supabase: Any, gate_ledger: Any, gate_run_id: str
) -> dict[str, str]:
    """An item of the test creator, made for this test with the service role straight through
    the REST gateway, not the API's create: the checks run even when create is broken. Tagged
    and registered before it is written, so it is removed at teardown whatever happens."""
    variable = env_variable(gate_target.name, "creator_token")
    if not gate_target.creator_token:
        pytest.skip(f"no creator token for {gate_target.name}: set {variable}")
    creator = (jwt_claims(gate_target.creator_token) or {}).get("sub")
    if not (isinstance(creator, str) and UUID_PATTERN.match(creator)):
        pytest.skip(f"{variable} is no JWT with a user id: the creator's item cannot be made")
    content_id = str(uuid.uuid4())
    title = tagged_title("Security probe", gate_run_id)
    gate_ledger.content(content_id)
    row = {
        "id": content_id,
        "creator_id": creator,
        "title": title,
        "description": "Made by the promorang-gate security smoke; removed at teardown.",
        "platform": "instagram",
        "status": "published",
        "posted_at": dt.datetime.now(dt.UTC).isoformat(),
        "shares": 100,
    }
    stored = gate_supabase.table("content_items").insert(row).execute().data
    assert stored, "the service role's insert of the creator's item answered no row"
    assert str(stored[0].get("id")) == content_id, f"content_items stored {stored[0]!r}"
    return {"id": content_id, "title": title, "run_id": gate_run_id}


def _write(gate_api: Any, method: str, item: dict[str, str], token: str) -> Any:
    # Tagged like everything the run writes, should a broken deployment accept it.
    body = (
        {"json": {"title": tagged_title("taken over", item["run_id"])}} if method == "PUT" else {}
    )
    headers = {"Authorization": f"Bearer {token}"}
    return gate_api.request(method, f"/api/content/{item['id']}", headers=headers, **body)


def _success(answer: Any) -> object:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("success") if isinstance(body, dict) else None


def _stored(stored: StoredState, item: dict[str, str]) -> str | None:
    """The item's stored title now, None once the row is gone."""
    row = stored.content_row(item["id"])
    return None if row is None else str(row["title"])


def _assert_unchanged(stored: StoredState, item: dict[str, str], what: str) -> None:
    row = stored.content_row(item["id"])
    assert row is not None, f"{what} was answered as refused, but the item was deleted"
    assert row["title"] == item["title"], f"{what} changed the stored title to {row['title']!r}"


@pytest.mark.checklist("security.unsigned_token_refused")
def test_unsigned_or_wrongly_signed_token_is_refused(
    gate_target: Any, gate_api: Any, creators_item: dict[str, str], gate_stored: StoredState
) -> None:
    claims = jwt_claims(gate_target.creator_token)
    if claims is None:
        variable = env_variable(gate_target.name, "creator_token")
        pytest.skip(f"{variable} is no JWT: cannot forge a token with its claims")
    for how, token in (
        ("unsigned", forged_token(claims)),
        ("wrongly signed", forged_token(claims, WRONG_KEY)),
    ):
        for method in ("PUT", "DELETE"):
            answer = _write(gate_api, method, creators_item, token)
            assert answer.status_code == 401, (
                f"{method} /api/content/{{id}} with an {how} token of the creator answered "
                f"{answer.status_code}, expected 401"
            )
            assert answer.json().get("success") is False, f"401 body: {answer.text}"
    _assert_unchanged(gate_stored, creators_item, "a write with a forged token")


@pytest.mark.checklist("security.demo_bypass_refused")
def test_demo_subject_token_is_refused(
    gate_api: Any, creators_item: dict[str, str], gate_stored: StoredState
) -> None:
    now = int(time.time())
    for subject in DEMO_SUBJECTS:
        claims = {"sub": subject, "role": "authenticated", "iat": now, "exp": now + 600}
        for method in ("PUT", "DELETE"):
            answer = _write(gate_api, method, creators_item, forged_token(claims))
            mode = answer.headers.get("x-auth-mode")
            request = f"{method} /api/content/{{id}} with an unverified token of {subject!r}"
            assert answer.status_code == 401, (
                f"{request} answered {answer.status_code} (X-Auth-Mode: {mode}), expected 401"
            )
            assert mode is None, f"{request} answered with X-Auth-Mode: {mode}"
    _assert_unchanged(gate_stored, creators_item, "a write with a demo-subject token")


@pytest.mark.checklist("security.ownership_enforced")
def test_other_user_cannot_change_the_creators_content(
    gate_target: Any, gate_api: Any, creators_item: dict[str, str], gate_stored: StoredState
) -> None:
    variable = env_variable(gate_target.name, "other_user_token")
    token = gate_target.other_user_token
    if not token:
        pytest.skip(f"no second user for {gate_target.name}: set {variable} (another user's token)")
    creator = (jwt_claims(gate_target.creator_token) or {}).get("sub")
    if creator is not None and (jwt_claims(token) or {}).get("sub") == creator:
        pytest.skip(f"{variable} is the creator's own token: give another user's")
    # Both writes are sent whatever the first answered (build H answers PUT 500, then DELETE 200
    # and deletes the row): the reason names what happened to the creator's item first.
    answers = []
    for method in ("PUT", "DELETE"):
        answer = _write(gate_api, method, creators_item, token)
        stored = _stored(gate_stored, creators_item)
        answers.append((method, answer.status_code, _success(answer), stored))
    problems = ownership_problems(answers, creators_item["title"])
    assert not problems, "; ".join(problems)


# POST /api/demo-login of build H: anyone gets a token (CONTRACT.md §6.20's bypass accepts it).
DEMO_LOGIN = "/api/demo-login"
# Envs where the route must not hand out tokens at all, whatever the API makes of them.
SHARED_ENVS = ("staging", "prod")


def _token_in(body: Any) -> str | None:
    """The token a login answer hands out: ``token``, ``access_token`` or ``session.…``."""
    if not isinstance(body, dict):
        return None
    session = body.get("session")
    for holder in (body, session if isinstance(session, dict) else {}):
        for key in ("token", "access_token"):
            if isinstance(holder.get(key), str) and holder[key]:
                return str(holder[key])
    return None


@pytest.mark.checklist("security.demo_login_closed")
def test_demo_login_hands_out_no_usable_token(gate_target: Any, gate_http: Any) -> None:
    api = gate_target.api_url.rstrip("/")
    answer = gate_http.post(f"{api}{DEMO_LOGIN}", json={})
    status = answer.status_code
    try:
        body = answer.json()
    except ValueError:
        body = None
    assert status < 500, f"POST {DEMO_LOGIN} answered {status}: neither refused nor closed"
    token = _token_in(body)
    if token is None:  # refused, or answered without handing out a token
        return
    assert gate_target.name not in SHARED_ENVS, (
        f"POST {DEMO_LOGIN} answered {status} with a token on {gate_target.name}: a public"
        " login for anyone must be closed on staging and production"
    )
    # Elsewhere a demo login may answer, but the API must not take its token: a write of an id
    # that does not exist answers 401 to a refused token, 404 to an accepted one.
    probe = f"{api}/api/content/{uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {token}"}
    write = gate_http.put(probe, headers=headers, json={"title": "demo-login probe"})
    assert write.status_code == 401, (
        f"the token POST {DEMO_LOGIN} hands anyone is accepted: PUT /api/content/{{id}} with it"
        f" answered {write.status_code}, expected 401"
    )
    assert (write.json() or {}).get("success") is False, f"401 body: {write.text[:200]}"


def _probe_origins(frontend_url: str) -> list[str]:
    """Origins the env does not declare: a preview host, ``null`` (sandboxed frames, files)
    and look-alikes of the declared frontend's host."""
    parts = urlsplit(frontend_url)
    host = parts.hostname or "promorang.invalid"
    port = f":{parts.port}" if parts.port else ""
    scheme = parts.scheme or "https"
    return [
        "https://gate-probe.vercel.app",
        "null",
        f"{scheme}://{host}.gate-probe.net{port}",
        f"{scheme}://gate-probe-{host}{port}",
    ]


@pytest.mark.checklist("security.cors_credentials_closed")
def test_undeclared_origins_get_no_credentialed_cors(gate_target: Any, gate_http: Any) -> None:
    """Reads only (GET and a preflight), so it runs where no writes are allowed too. Not
    /api/health: a health fault must not show up as a CORS fault; the headers come on a 401
    as on a 200."""
    api = gate_target.api_url.rstrip("/")
    open_to: list[str] = []
    for origin in _probe_origins(gate_target.frontend_url):
        preflight = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        for method, headers in (("GET", {"Origin": origin}), ("OPTIONS", preflight)):
            answer = gate_http.request(method, f"{api}/api/content?limit=1", headers=headers)
            assert answer.status_code in (200, 204, 401, 403), (
                f"{method} /api/content with Origin {origin} answered {answer.status_code}"
            )
            allowed = answer.headers.get("access-control-allow-origin")
            credentials = answer.headers.get("access-control-allow-credentials", "")
            if allowed == origin and credentials.strip().lower() == "true":
                open_to.append(f"{method} with Origin {origin}")
    assert not open_to, (
        "the API echoes origins the env does not declare in Access-Control-Allow-Origin with"
        " Access-Control-Allow-Credentials: true (any such page can act as the signed-in user): "
        + "; ".join(open_to)
    )
