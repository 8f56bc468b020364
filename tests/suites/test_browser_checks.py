"""The browser checks' edges: a machine without Chromium leaves their items not verified (never
green), and a failing check brings pytest-playwright's screenshot and trace to the Allure result
without the creator's token in them."""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SMOKE = ("-m", "create_flow")
BROWSER_ITEMS = ("create_flow.frontend_wired", "health.frontend")


def test_without_chromium_the_browser_items_are_not_verified(
    sandbox: Any, run_gate: Any, tmp_path: Path
) -> None:
    sandbox.set_faults([])
    no_browser = {
        "PATH": str(Path(sys.executable).parent),  # the venv's tools, no chromium among them
        "GATE_CHROMIUM": "",
        "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-browsers"),
    }
    run = run_gate(SMOKE, env=no_browser)
    items = run.items()
    assert run.gate()["verdict"] == "block", run.output
    assert run.returncode != 0
    for item in BROWSER_ITEMS:
        assert items[item]["status"] == "not_verified", items[item]
        assert "apt-get install chromium" in (items[item]["reason"] or ""), items[item]
    others = {i: it["status"] for i, it in items.items() if i not in BROWSER_ITEMS}
    assert set(others.values()) <= {"passed", "manual_signed"}, others


def _result_of(allure_dir: Path, test_name: str) -> dict[str, Any]:
    for path in allure_dir.glob("*-result.json"):
        result: dict[str, Any] = json.loads(path.read_text())
        if result.get("fullName", "").endswith(f"#{test_name}"):
            return result
    raise AssertionError(f"no Allure result for {test_name} in {allure_dir}")


def test_a_failing_browser_check_attaches_a_redacted_screenshot_and_trace(
    sandbox: Any, run_gate: Any, tmp_path: Path
) -> None:
    sandbox.set_faults(["frontend_price_override"])
    try:
        run = run_gate(
            (
                *SMOKE,
                "-k",
                "create_form",
                "--screenshot",
                "only-on-failure",
                "--tracing",
                "retain-on-failure",
                "--output",
                str(tmp_path / "playwright"),
            )
        )
    finally:
        sandbox.set_faults([])
    assert run.items()["create_flow.frontend_wired"]["status"] == "failed", run.output
    allure_dir = run.reports / "allure-results"
    result = _result_of(allure_dir, "test_create_form_creates_the_typed_item")
    attachments = {a["name"]: allure_dir / a["source"] for a in result.get("attachments", [])}
    screenshot = next(p for n, p in attachments.items() if n == "screenshot")
    trace = next(p for n, p in attachments.items() if n.startswith("Playwright trace"))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    token = sandbox.state.creator_token
    with zipfile.ZipFile(trace) as zipped:
        names = zipped.namelist()
        assert any(n.endswith(".network") for n in names), names
        leaked = [n for n in names if token.encode() in zipped.read(n)]
    assert not leaked, f"the creator's token is in the attached trace: {leaked}"
    kept = tmp_path / "playwright"
    assert list(kept.rglob("trace.zip")), "pytest-playwright's --output got no trace"


def test_a_field_the_profile_declares_absent_is_neither_filled_nor_judged(
    sandbox: Any, run_gate_inprocess: Any
) -> None:
    """The sandbox's form overrides the typed share price (CONTRACT §6.17): the check fails on
    it (above) unless the profile says the form has no share price, as build B's has none. The
    declaration is explicit; without it the same form is red."""
    sandbox.set_faults(["frontend_price_override"])
    try:
        run = run_gate_inprocess(
            (*SMOKE, "-k", "create_form"), env={"GATE_SANDBOX_CREATE_FORM_SHARE_PRICE": "false"}
        )
    finally:
        sandbox.set_faults([])
    # The item's other checks are deselected here: it is not verified, and its check passed.
    item = run.items()["create_flow.frontend_wired"]
    assert item["status"] == "not_verified", (item["reason"], run.output[-3000:])
    assert re.search(r"\b1 passed, \d+ deselected in", run.output), run.output[-3000:]
