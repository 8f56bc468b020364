"""Frontend Create form wired to the environment's API: the built bundle targets it, and the
API lets the frontend's origin call it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest

from _support import local_addresses, module_script_src

pytestmark = pytest.mark.create_flow


@pytest.mark.checklist("create_flow.frontend_wired")
def test_bundle_targets_the_environment_api(gate_target: Any, gate_http: Any) -> None:
    page_url = f"{gate_target.frontend_url}/create"
    page = gate_http.get(page_url)
    assert page.status_code == 200, f"GET {page_url} answered {page.status_code}"
    src = module_script_src(page.text)
    assert src, "the Create page loads no module script"
    bundle = gate_http.get(urljoin(page_url, src))
    assert bundle.status_code == 200, f"GET bundle {src} answered {bundle.status_code}"
    code = bundle.text
    assert gate_target.api_url in code, f"the bundle does not reference {gate_target.api_url}"
    assert "/api/content/upload-image" in code, "the bundle has no upload call"
    strays = local_addresses(code, allowed=[gate_target.api_url, gate_target.frontend_url])
    assert not strays, f"the bundle points at local addresses {strays}"


@pytest.mark.checklist("create_flow.frontend_wired")
def test_api_allows_exactly_the_frontend_origin(gate_target: Any, gate_api: Any) -> None:
    origin = gate_target.frontend_url
    # Not /api/health: a health fault must not show up as a wiring fault.
    simple = gate_api.get("/api/content", params={"limit": 1}, headers={"Origin": origin})
    assert simple.status_code == 200
    assert simple.headers.get("access-control-allow-origin") == origin, (
        f"GET with Origin {origin} got Access-Control-Allow-Origin "
        f"{simple.headers.get('access-control-allow-origin')!r}"
    )
    preflight = gate_api.options(
        "/api/content",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert preflight.status_code in (200, 204), f"preflight answered {preflight.status_code}"
    assert preflight.headers.get("access-control-allow-origin") == origin
    methods = preflight.headers.get("access-control-allow-methods", "").upper()
    assert "POST" in methods, f"preflight allows methods {methods!r}"
