"""Helpers shared by the engine tests (reading gate files, asserting usage errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

LOCAL_SECRET = "local-service-role-secret-0123456789"


def gate_file(pytester: pytest.Pytester, env: str = "local") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (pytester.path / "reports" / f"gate-{env}.json").read_text(encoding="utf-8")
    )
    return data


def item_status(data: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {
        item["id"]: (item["status"], item["reason"])
        for checklist in data["checklists"]
        for item in checklist["items"]
    }


def assert_usage_error(result: pytest.RunResult, pytester: pytest.Pytester, fragment: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1, errors
    assert errors[0].startswith("ERROR: ")
    assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "reports").exists()
