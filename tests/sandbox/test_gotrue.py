"""The sandbox's GoTrue subset, driven by supabase-py as the gate signs its users in: password
and refresh-token grants and /auth/v1/user, on the sandbox's database."""

from __future__ import annotations

import httpx
import pytest
import supabase
from supabase_auth.errors import AuthApiError

from promorang_sandbox import SandboxHandle
from promorang_sandbox.database import CREATOR_EMAIL, CREATOR_PASSWORD
from promorang_sandbox.jwtkeys import verify


def test_password_sign_in_issues_an_hour_long_token_the_api_accepts(
    sandbox: SandboxHandle,
) -> None:
    state = sandbox.state
    client = supabase.create_client(state.supabase_url, state.service_role_key)
    answer = client.auth.sign_in_with_password(
        {"email": CREATOR_EMAIL, "password": CREATOR_PASSWORD}
    )
    session = answer.session
    assert session is not None
    claims = verify(session.access_token)
    assert claims["sub"] == state.creator_id
    assert claims["exp"] - claims["iat"] == 3600
    listing = httpx.get(
        f"{state.api_url}/api/content",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {session.access_token}"},
        timeout=10,
    )
    assert listing.status_code == 200, listing.text
    user = client.auth.get_user(session.access_token)
    assert user is not None
    assert user.user.email == CREATOR_EMAIL

    refreshed = client.auth.refresh_session(session.refresh_token).session
    assert refreshed is not None
    assert refreshed.refresh_token != session.refresh_token
    assert verify(refreshed.access_token)["sub"] == state.creator_id
    reused = httpx.post(
        f"{state.supabase_url}/auth/v1/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": session.refresh_token},
        timeout=10,
    )
    assert reused.status_code == 400
    assert reused.json()["error_code"] == "refresh_token_not_found"


def test_a_wrong_password_is_refused(sandbox: SandboxHandle) -> None:
    state = sandbox.state
    client = supabase.create_client(state.supabase_url, state.service_role_key)
    with pytest.raises(AuthApiError, match="Invalid login credentials"):
        client.auth.sign_in_with_password({"email": CREATOR_EMAIL, "password": "not-the-password"})
