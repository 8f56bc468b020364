"""GATE_<ENV>_VERCEL_BYPASS_SECRET: Vercel's protection bypass header goes to the env's Vercel
hosts on every request (redirect hops included), to no other host, and never into evidence."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from promorang_gate.secrets.redaction import MASK, Redactor
from promorang_gate.target.environments import resolve_settings
from promorang_gate.target.http import GateHttp
from promorang_gate.target.vercel_bypass import HEADER, VercelBypass

SECRET = "bypass-canary-7d41c29e0a"
API = "https://promorang-api-git-abc-team.vercel.app"
FRONTEND = "https://promorang-web-git-abc-team.vercel.app"
SUPABASE = "https://staging-project.supabase.co"


def _target(tmp_path: object, **env: str) -> object:
    environ = {
        "GATE_STAGING_API_URL": API,
        "GATE_STAGING_FRONTEND_URL": FRONTEND,
        "GATE_STAGING_SUPABASE_URL": SUPABASE,
        "GATE_STAGING_SERVICE_ROLE_KEY": "service-role-canary-0123456789",
        **env,
    }
    settings = resolve_settings(["staging"], environ, {}, tmp_path)  # type: ignore[arg-type]
    return settings["staging"].target()


def test_the_secret_is_read_and_names_only_the_vercel_hosts(tmp_path: object) -> None:
    target = _target(tmp_path, GATE_STAGING_VERCEL_BYPASS_SECRET=SECRET)
    bypass = VercelBypass.of(target)
    assert bypass is not None
    assert bypass.hosts == {
        "promorang-api-git-abc-team.vercel.app",
        "promorang-web-git-abc-team.vercel.app",
    }
    assert SECRET in target.secret_values()  # type: ignore[attr-defined]
    assert VercelBypass.of(_target(tmp_path)) is None  # no secret, no header
    custom = dataclasses.replace(target, api_url="https://api.example.com", frontend_url=SUPABASE)  # type: ignore[type-var]
    assert VercelBypass.of(custom) is None  # no Vercel host, nobody gets it


@pytest.mark.slow
def test_every_request_to_a_vercel_host_carries_it_and_no_other(tmp_path: object) -> None:
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get(HEADER)))
        if request.url.path == "/hop":
            return httpx.Response(302, headers={"location": f"{API}/api/health"})
        return httpx.Response(200, json={"echo": request.headers.get(HEADER)})

    target = _target(tmp_path, GATE_STAGING_VERCEL_BYPASS_SECRET=SECRET)
    http = GateHttp(
        "staging",
        None,
        2.0,
        True,
        Redactor([SECRET]),
        attach=False,
        transport=httpx.MockTransport(answer),
        vercel_bypass=VercelBypass.of(target),
    )
    with http:
        http.get(f"{API}/hop", follow_redirects=True)
        http.get(f"{FRONTEND}/")
        # A caller's own header does not leak it to Supabase (or any other host) either.
        http.get(f"{SUPABASE}/rest/v1/", headers={HEADER: SECRET})
        http.get("https://example.com/")
        evidence = http.describe_last(4)
    assert seen == [
        ("promorang-api-git-abc-team.vercel.app", SECRET),
        ("promorang-api-git-abc-team.vercel.app", SECRET),
        ("promorang-web-git-abc-team.vercel.app", SECRET),
        ("staging-project.supabase.co", None),
        ("example.com", None),
    ]
    assert SECRET not in evidence
    assert MASK in evidence
