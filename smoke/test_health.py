"""Health: runbook section 1 step 4 and section 3 step 5."""

from __future__ import annotations

from typing import Any

import pytest

from _support import module_script_src

pytestmark = [pytest.mark.create_flow, pytest.mark.health]


@pytest.mark.checklist("health.api")
def test_api_health_reports_ok(gate_target: Any, gate_api: Any, gate_ready: Any) -> None:
    # Waited for only while the API does not answer (or answers 502/503/504).
    response = gate_ready(lambda: gate_api.get("/api/health"), what=f"API of {gate_target.name}")
    assert response.status_code == 200, f"GET /api/health answered {response.status_code}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"content type {content_type!r}"
    body = response.json()
    assert str(body.get("status", "")).lower() == "ok", f"health status is {body.get('status')!r}"


@pytest.mark.checklist("health.frontend")
def test_frontend_growth_hub_boots_the_app(
    gate_target: Any, gate_http: Any, gate_ready: Any
) -> None:
    url = f"{gate_target.frontend_url}/growth-hub"

    response = gate_ready(lambda: gate_http.get(url), what=f"frontend of {gate_target.name}")
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    assert response.headers.get("content-type", "").startswith("text/html")
    html = response.text
    assert 'id="root"' in html, "the page has no app root element"
    assert module_script_src(html), "the page loads no module script: the app cannot boot"
