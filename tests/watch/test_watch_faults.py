"""Faults that appear only after a while: each breaches exactly its watch item; the API gone
mid-watch breaches the error rate; a read-only `prod` watch sends no write."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from watch_helpers import watch

from promorang_gate.watch.run import Exit

pytestmark = pytest.mark.slow

WATCH_FAULT_ITEMS = {
    "error_rate_rises": "watch.error_rate",
    "latency_creeps": "watch.latency_p95",
    "connections_leak": "watch.connections",
    "bucket_near_quota": "watch.storage_quota",
}


def _failed(data: dict[str, Any]) -> set[str]:
    return {i["id"] for i in data["items"] if i["status"] == "failed"}


@pytest.mark.parametrize("fault", list(WATCH_FAULT_ITEMS))
def test_each_fault_breaches_exactly_its_item(
    sandbox: Any, sandbox_state_file: Path, tmp_path: Path, fault: str
) -> None:
    sandbox.set_faults([fault])
    try:
        code, output, data = watch(sandbox_state_file, tmp_path, duration=30)
    finally:
        sandbox.set_faults([])
    assert code == Exit.BREACH, output
    assert _failed(data) == {WATCH_FAULT_ITEMS[fault]}
    assert data["stopped_by"] == "breach"
    assert data["elapsed_s"] < 30
    assert f"BREACH {WATCH_FAULT_ITEMS[fault]}:" in output
    assert "vercel rollback" in output


def test_api_stopped_mid_watch_breaches_on_error_rate(tmp_path: Path) -> None:
    from promorang_sandbox import start_sandbox

    handle = start_sandbox(ready_timeout_s=60)
    state = tmp_path / "state.json"
    state.write_text(handle.state.to_json())
    timer = threading.Timer(4.0, handle.stop)
    timer.start()
    try:
        code, output, data = watch(state, tmp_path / "reports", duration=30)
    finally:
        timer.cancel()
        handle.stop()
    assert code == Exit.BREACH, output
    assert "watch.error_rate" in _failed(data)
    assert data["verdict"] == "block"


def test_prod_profile_on_the_sandbox_sends_no_write(
    sandbox: Any, sandbox_state_file: Path, tmp_path: Path
) -> None:
    s = sandbox.state
    extra = {
        "GATE_PROD_API_URL": s.api_url,
        "GATE_PROD_FRONTEND_URL": s.frontend_url,
        "GATE_PROD_SUPABASE_URL": s.supabase_url,
        "GATE_PROD_SERVICE_ROLE_KEY": s.service_role_key,
        "GATE_PROD_DATABASE_URL": s.database_url,
        "GATE_PROD_STORAGE_QUOTA_BYTES": str(1 << 30),
    }
    sandbox.clear_requests()
    code, output, data = watch(sandbox_state_file, tmp_path, env="prod", extra=extra)
    received = sandbox.requests()
    assert code == Exit.ALLOW, output
    assert data["verdict"] == "allow"
    assert received
    assert {r["method"] for r in received} <= {"GET", "HEAD"}
