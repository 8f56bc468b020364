"""Allure support: runbook labels, environment/categories files, SVG chart, HTTP attachments."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from _recording_server import RecordingServer
from test_ledger import make_target

from promorang_gate.reporting.allure_support import (
    categories,
    latency_histogram_svg,
    write_categories,
    write_environment_properties,
)
from promorang_gate.secrets.redaction import Redactor

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


CATEGORY_CASES = {
    "failed: httpx.ConnectError: [Errno 111] Connection refused": "Infrastructure / unreachable",
    "ConnectError: [Errno -2] Name or service not known": "Infrastructure / unreachable",
    "httpx.RemoteProtocolError: Server disconnected without sending a response.": (
        "Infrastructure / unreachable"
    ),
    "httpx.ReadTimeout: timed out": "Slow",
    "upload latency p95 2.1s is not below 1.5s over 20 uploads (p50 1.9s, max 2.4s)": "Slow",
    "local: API health: not ready after 12 attempts in 30.01s (budget 30s); last: GET /api/health"
    " answered 503": "Slow",
    "local: API health: not ready after 3 attempts in 2.0s (budget 2s); last: ConnectError: x": (
        "Infrastructure / unreachable"
    ),
    "upload fell back: 'storage unavailable' (imageUrl https://x/y.jpg)": "Product defect",
    "BLOCK by gate promotion: 1 blocker(s): health.api (failed)": "Gate verdict: block",
}


def _category(status: str, message: str) -> str | None:
    """Allure 3's rule: the first category whose statuses and message regex (searched) match."""
    for category in categories():
        statuses = category.get("matchedStatuses")
        pattern = category.get("messageRegex")
        if statuses is not None and status not in statuses:  # type: ignore[operator]
            continue
        if pattern is not None and not re.search(str(pattern), message):
            continue
        return str(category["name"])
    return None


def test_categories_have_stable_names_and_file_them_right(tmp_path: Path) -> None:
    data = json.loads(write_categories(tmp_path).read_text())
    assert data == categories()
    names = [c["name"] for c in data]
    assert set(names) == {
        "Gate verdict: block",
        "Manual missing",
        "Not verified",
        "Infrastructure / unreachable",
        "Slow",
        "Product defect",
    }
    for category in data:
        pattern = str(category.get("messageRegex", ""))
        # One file for Java's Allure 2 (whole-string match) and JavaScript's Allure 3 (search):
        # no inline flags, which JavaScript has no syntax for.
        assert "(?" not in pattern, pattern
        if pattern and not pattern.startswith("^"):
            assert pattern.startswith("[\\s\\S]*"), pattern
            assert pattern.endswith("[\\s\\S]*"), pattern
    for message, expected in CATEGORY_CASES.items():
        assert _category("failed", message) == expected, message
    assert _category("broken", "ReadTimeout: timed out") == "Slow"
    assert _category("skipped", "writes not allowed on prod: POST /x refused") == "Not verified"
    assert _category("broken", "manual missing: no sign-off: promorang-gate signoff x") == (
        "Manual missing"
    )
    assert _category("broken", "not verified: smoke/x.py::t never ran") == "Not verified"
    assert _category("skipped", "manual missing: no sign-off") == "Manual missing"
    assert _category("passed", "") is None


def _svg(latencies: list[float], budget: float) -> tuple[ElementTree.Element, str]:
    svg = latency_histogram_svg(latencies, budget_s=budget)
    return ElementTree.fromstring(svg), svg


NS = "{http://www.w3.org/2000/svg}"


def _texts(root: ElementTree.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def test_latency_histogram_counts_every_sample_with_a_y_axis() -> None:
    root, _ = _svg([0.1, 0.2, 0.2, 0.3, 1.9], 1.5)
    assert root.tag == f"{NS}svg"
    bars = [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert sum(int(r.get("data-count") or 0) for r in bars) == 5
    texts = _texts(root)
    assert "requests" in texts  # the y-axis is named and has count ticks
    assert {"0", "1", "2"} <= set(texts)
    caption = next(t for t in texts if t.startswith("n="))
    assert "n=5" in caption
    assert "p95=1.900s" in caption
    assert "budget=1.5s" in caption


def test_latency_histogram_bins_follow_the_data_not_the_budget() -> None:
    fast = [0.020 + i * 0.001 for i in range(40)]  # 20-59 ms, budget 1.5 s far away
    root, _ = _svg(fast, 1.5)
    bars = [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert len(bars) >= 5  # spread over the samples, not one bar next to an empty axis
    assert max(int(r.get("data-count") or 0) for r in bars) < 40
    texts = _texts(root)
    assert any(t.endswith(" ms") for t in texts)
    assert any("budget 1.50 s" in t and "beyond" in t for t in texts)  # named at the edge


def test_latency_histogram_draws_and_names_a_budget_within_reach() -> None:
    root, _ = _svg([1.0 + i * 0.02 for i in range(30)], 1.5)
    lines = [ln for ln in root.iter(f"{NS}line") if ln.get("class") == "budget"]
    assert len(lines) == 1
    assert "budget 1.50 s" in _texts(root)
    empty, _ = _svg([], 1.0)
    assert any("no requests measured" in t for t in _texts(empty))


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv = RecordingServer(echo="ok")
    try:
        yield srv
    finally:
        srv.stop()


def _results(alluredir: Path) -> list[dict[str, Any]]:
    """The tests' own results (not the gate's item and verdict results)."""
    results = [json.loads(p.read_text()) for p in alluredir.glob("*-result.json")]
    return [r for r in results if not r.get("fullName", "").startswith("promorang-gate:")]


@pytest.mark.slow
def test_labels_and_attachments_in_allure_results(
    project: pytest.Pytester, server: RecordingServer, clean_env: pytest.MonkeyPatch
) -> None:
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_LOCAL_{key}", server.url)
    project.makepyfile(
        """
        import pytest
        from promorang_gate.reporting.allure_support import attach_svg, latency_histogram_svg

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


@pytest.mark.slow
def test_add_labels_without_env_and_non_gating_items(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
                from types import SimpleNamespace

        from promorang_gate.reporting.allure_support import add_labels

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
