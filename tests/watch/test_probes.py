"""Probes: each request timed, its outcome recorded; read-only on every env."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import Target
from promorang_gate.target.http import WriteRefused
from promorang_gate.watch.probes import Prober
from promorang_gate.watch.target import resolve_watched


def _target(**changes: Any) -> Target:
    base = Target(
        name="staging",
        api_url="http://api.test",
        frontend_url="http://app.test",
        supabase_url="http://sb.test",
        bucket="content-media",
        upload_prefix="uploads",
        writes_allowed=False,
        request_timeout_s=2.0,
        readiness_budget_s=1.0,
        latency_p95_budget_s=1.5,
        failure_rate_budget=0.02,
        fallback_rate_budget=0.02,
        slo_uploads=1,
        slo_concurrency=1,
        contract_max_examples=1,
        contract_deadline_s=1.0,
        service_role_key="service-role-key-0123456789",
        database_url=None,
        creator_token=None,
        stripe_webhook_secret=None,
        sources={},
    )
    return dataclasses.replace(base, **changes)


def test_each_probe_is_timed_and_its_outcome_kept() -> None:
    seen: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.url.path == "/api/content" and "page" in request.url.params:
            return httpx.Response(200, json=[{"id": "c-1"}])
        if request.url.path == "/api/content/c-1":
            return httpx.Response(503, json={"status": "down"})
        if request.url.path.startswith("/storage"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "OK"})

    prober = Prober(_target(), Redactor(), transport=httpx.MockTransport(answer))
    assert prober.discover_content() == "c-1"
    results = {r.probe: r for r in prober.run()}
    prober.close()
    assert set(results) == {"health", "list_content", "get_content", "bucket"}
    assert not results["health"].failed
    assert results["health"].status == 200
    assert results["get_content"].failed
    assert results["get_content"].status == 503
    assert results["bucket"].failed
    assert results["bucket"].status is None
    assert "ConnectError" in (results["bucket"].error or "")
    assert all(r.latency_s >= 0 for r in results.values())
    assert {m for m, _ in seen} == {"GET"}


def test_without_a_known_item_there_is_no_item_probe() -> None:
    prober = Prober(
        _target(), Redactor(), transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[]))
    )
    assert prober.discover_content() is None
    assert [p for p, _, _ in prober.paths()] == ["health", "list_content", "bucket"]
    prober.close()


def test_the_write_guard_applies_unchanged() -> None:
    prober = Prober(
        _target(), Redactor(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    with pytest.raises(WriteRefused, match="writes not allowed on staging: POST /api/content"):
        prober.clients["api"].post("/api/content", json={})
    prober.close()


def test_probes_reach_the_sandbox(sandbox: Any, sandbox_state_file: Path, repo_root: Path) -> None:
    watched = resolve_watched(
        "sandbox", repo_root, Redactor(), sandbox_state=str(sandbox_state_file)
    )
    prober = Prober(watched.target, Redactor())
    try:
        prober.discover_content()
        results = prober.run()
    finally:
        prober.close()
        watched.close()
    assert watched.target.writes_allowed is False
    assert [r.status for r in results if r.probe in ("health", "list_content", "bucket")] == [
        200,
        200,
        200,
    ]
