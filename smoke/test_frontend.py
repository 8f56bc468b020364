"""Frontend Create form wired to the environment's API, the cheap checks: the pages boot the
app, the built bundle reaches this API (its URL built in and CORS letting the frontend call it,
or relative `/api` calls that the frontend's host forwards to it, as the production host's
rewrite does), it points at no stray local dev server, and no source map is served.
The form itself is tested end to end in a browser (test_frontend_browser.py)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urljoin

import pytest

from _support import local_addresses, module_script_src
from promorang_gate.target.frontend_bundle import Bundle, load_chunks

pytestmark = pytest.mark.create_flow


def _bundle(gate_target: Any, gate_http: Any) -> Bundle:
    """Every module the Create page can load: its entry and the chunks that follows (static and
    dynamic imports, modulepreload), same origin, capped."""
    page_url = f"{gate_target.frontend_url}{gate_target.create_path}"
    page = gate_http.get(page_url, follow_redirects=True)
    assert page.status_code == 200, f"GET {page_url} answered {page.status_code}"
    assert module_script_src(page.text), "the Create page loads no module script"

    def fetch(url: str) -> tuple[int, str]:
        answer = gate_http.get(url)
        return answer.status_code, str(answer.text)

    bundle = load_chunks(str(page.url), page.text, fetch)
    assert bundle.modules, f"the Create page's module scripts did not load: {bundle.missing}"
    return bundle


@pytest.mark.checklist("create_flow.frontend_wired")
def test_pages_boot_the_app(gate_target: Any, gate_http: Any) -> None:
    # A deep link to a created item must boot the app too: the form lands there.
    for path in (gate_target.create_path, f"/content/{uuid.uuid4()}"):
        url = f"{gate_target.frontend_url}{path}"
        page = gate_http.get(url, follow_redirects=True)
        assert page.status_code == 200, f"GET {url} answered {page.status_code}"
        content_type = page.headers.get("content-type", "")
        assert content_type.startswith("text/html"), f"GET {url} answered {content_type!r}"
        assert 'id="root"' in page.text, f"{url} has no app root element"
        assert module_script_src(page.text), f"{url} loads no module script"


@pytest.mark.checklist("create_flow.frontend_wired")
def test_bundle_reaches_the_environment_api(
    gate_target: Any, gate_http: Any, gate_api: Any
) -> None:
    bundle = _bundle(gate_target, gate_http)
    code = bundle.code
    loaded = f"{len(bundle.modules)} module(s) the Create page loads"
    assert "/api/content/upload-image" in code, f"no upload call in the {loaded}"
    allowed = [gate_target.api_url, gate_target.frontend_url]
    strays = {
        url.rsplit("/", 1)[-1]: found
        for url, module in bundle.modules.items()
        if (found := local_addresses(module, allowed=allowed))
    }
    assert not strays, f"the bundle points at local dev servers: {strays}"
    if gate_target.api_url in code:
        _assert_api_allows_origin(gate_api, gate_target.frontend_url)
    else:
        _assert_frontend_forwards_api(gate_target, gate_http, gate_api)


def _assert_api_allows_origin(gate_api: Any, origin: str) -> None:
    """The bundle calls the API across origins: the API must let exactly the frontend in."""
    # Not /api/health: a health fault must not show up as a wiring fault.
    simple = gate_api.get("/api/content", params={"limit": 1}, headers={"Origin": origin})
    assert simple.status_code == 200
    allowed = simple.headers.get("access-control-allow-origin")
    assert allowed == origin, f"GET with Origin {origin} got Allow-Origin {allowed!r}"
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


def _assert_frontend_forwards_api(gate_target: Any, gate_http: Any, gate_api: Any) -> None:
    """The bundle calls relative /api: the frontend's host must forward them to this API."""
    url = f"{gate_target.frontend_url}/api/health"
    forwarded, direct = gate_http.get(url), gate_api.get("/api/health")
    content_type = forwarded.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (
        f"GET {url} answered {forwarded.status_code} {content_type!r}: the frontend's host "
        "does not forward /api to the API (the bundle calls relative /api)"
    )
    assert forwarded.status_code == direct.status_code, (
        f"GET {url} answered {forwarded.status_code}, the API's /api/health {direct.status_code}"
    )
    assert _stable(forwarded.json()) == _stable(direct.json()), (
        f"GET {url} answered {forwarded.text!r}, not this API's health ({direct.text!r})"
    )


def _stable(body: Any) -> Any:
    """A health body without its clock fields, which differ between two calls."""
    if not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if "time" not in k.lower()}


@pytest.mark.checklist("create_flow.frontend_wired")
def test_source_maps_are_not_served(gate_target: Any, gate_http: Any) -> None:
    candidates: set[str] = set()
    for url, code in _bundle(gate_target, gate_http).modules.items():
        candidates.add(url + ".map")
        marker = "sourceMappingURL="
        if marker in code:
            reference = code.rsplit(marker, 1)[1].split()[0]
            assert not reference.startswith("data:"), f"{url} carries its source map inline"
            candidates.add(urljoin(url, reference))
    for map_url in sorted(candidates):
        answer = gate_http.get(map_url)
        served = answer.status_code == 200 and '"mappings"' in answer.text
        assert not served, f"GET {map_url} serves the source map"
