"""Allure support: runbook labels, environment/categories files, SVG chart, HTTP attachments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from _recording_server import RecordingServer
from test_ledger import make_target

from promorang_gate.allure_support import (
    latency_histogram_svg,
    write_categories,
    write_environment_properties,
)
from promorang_gate.redaction import Redactor

SECRET = "sk-service-role-local"
DB_URL = "postgresql://gate:db-password-77@127.0.0.1:5432/postgres"


def test_environment_properties_hold_no_secret(tmp_path: Path) -> None:
    targets = {
        "local": make_target(True, database_url=DB_URL, creator_token="eyJhbGciOi.eyJzdWIi.c2ln"),
        "prod": make_target(False, name="prod", api_url="https://api.promorang.com"),
    }
    redactor = Redactor([SECRET, DB_URL])
    path = write_environment_properties(
        tmp_path, targets, redactor, run_id="gr20261125t164700-3fa2c1"
    )
    text = path.read_text()
    assert path.name == "environment.properties"
    assert "environments=local, prod" in text
    assert "run_id=gr20261125t164700-3fa2c1" in text
    assert "prod.api_url=https://api.promorang.com" in text
    assert "local.writes_allowed=True" in text
    assert "prod.writes_allowed=False" in text
    for secret in (SECRET, "db-password-77", "eyJhbGciOi"):
        assert secret not in text


def test_categories(tmp_path: Path) -> None:
    data = json.loads(write_categories(tmp_path).read_text())
    by_name = {c["name"]: c for c in data}
    assert set(by_name) == {"Product defect", "Infrastructure / unreachable", "Not verified"}
    assert by_name["Not verified"]["matchedStatuses"] == ["skipped"]
    assert "broken" in by_name["Infrastructure / unreachable"]["matchedStatuses"]
    regex = by_name["Infrastructure / unreachable"]["messageRegex"]
    for word in ("ConnectError", "ConnectTimeout", "ReadTimeout", "NotReady", "refused"):
        assert word in regex
    assert data.index(by_name["Infrastructure / unreachable"]) < data.index(
        by_name["Product defect"]
    )


def test_latency_histogram_is_valid_svg() -> None:
    svg = latency_histogram_svg([0.1, 0.2, 0.2, 0.3, 1.9], budget_s=1.5)
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    bars = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert sum(int(r.findtext(f"{ns}title") or 0) for r in bars) == 5
    texts = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "n=5" in texts
    assert "p95=1.900s" in texts
    assert "budget=1.5s" in texts
    assert ElementTree.fromstring(latency_histogram_svg([], budget_s=1.0)) is not None


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv = RecordingServer(echo="ok")
    try:
        yield srv
    finally:
        srv.stop()


def _results(alluredir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in alluredir.glob("*-result.json")]


def test_labels_and_attachments_in_allure_results(
    project: pytest.Pytester, server: RecordingServer, clean_env: pytest.MonkeyPatch
) -> None:
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_LOCAL_{key}", server.url)
    project.makepyfile(
        """
        import pytest
        from promorang_gate.allure_support import attach_svg, latency_histogram_svg

        @pytest.mark.checklist("health.api")
        def test_health(gate_api):
            assert gate_api.get("/api/health").status_code == 200
            attach_svg("latency", latency_histogram_svg([0.1, 0.2], 1.5))
        """
    )
    result = project.runpytest_subprocess("--env", "local", "--alluredir", "allure")
    result.assert_outcomes(passed=1)
    (res,) = _results(project.path / "allure")
    labels = {(label["name"], label["value"]) for label in res["labels"]}
    assert {
        ("epic", "Operations Runbook"),
        ("feature", "Health"),
        ("story", "Backend: `/api/health`"),
        ("severity", "blocker"),
        ("parentSuite", "local"),
        ("tag", "health.api"),
    } <= labels
    assert res["links"][0]["type"] == "link"
    assert res["links"][0]["url"].endswith("runbooks.md#1-local-development")
    names = {a["name"]: a for a in res["attachments"]}
    assert "GET /api/health → 200" in names
    assert names["latency"]["type"] == "image/svg+xml"
    text = (project.path / "allure" / names["GET /api/health → 200"]["source"]).read_text()
    assert text.startswith(f"GET {server.url}/api/health\n")


def test_add_labels_without_env_and_non_gating_items(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
                from types import SimpleNamespace

        from promorang_gate.allure_support import add_labels

        def pytest_collection_modifyitems(items):
            checklist = SimpleNamespace(title="Monitoring", link="")
            entries = [SimpleNamespace(id="slo.quota", text="Storage quota", gating=False)]
            for item in items:
                add_labels(item, checklist, entries, None)
        """
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:promorang_gate", "--alluredir", "allure")
    result.assert_outcomes(passed=1)
    (res,) = _results(pytester.path / "allure")
    labels = {(label["name"], label["value"]) for label in res["labels"]}
    assert {
        ("severity", "normal"),
        ("parentSuite", "all environments"),
        ("tag", "slo.quota"),
    } <= labels
    assert res.get("links", []) == []
