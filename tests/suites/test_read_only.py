"""Production safety: a read-only profile pointed at the sandbox sends no write, still runs its
read-only checks, and gives an honest partial verdict (block, with writes not verified)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _prod_pointed_at(sandbox: Any) -> dict[str, str]:
    state = sandbox.state
    return {
        "GATE_PROD_API_URL": state.api_url,
        "GATE_PROD_FRONTEND_URL": state.frontend_url,
        "GATE_PROD_SUPABASE_URL": state.supabase_url,
        "GATE_PROD_SERVICE_ROLE_KEY": state.service_role_key,
        "GATE_PROD_DATABASE_URL": state.database_url,
        "GATE_PROD_CREATOR_TOKEN": state.creator_token,
    }


def test_prod_profile_sends_no_write(sandbox: Any, run_gate: Any) -> None:
    sandbox.set_faults([])
    sandbox.clear_requests()
    run = run_gate(["smoke", "-m", "create_flow", "--env", "prod"], env=_prod_pointed_at(sandbox))

    sent = sandbox.requests()
    assert sent, "the run reached the sandbox at all"
    writes = [r for r in sent if r["method"] in WRITE_METHODS]
    assert writes == [], f"writes reached a read-only environment: {writes}"

    items = run.items("prod")
    assert run.gate("prod")["verdict"] == "block"
    assert run.returncode != 0
    for read_only_item in ("health.api", "health.frontend", "create_flow.bucket_exists"):
        assert items[read_only_item]["status"] == "passed", items[read_only_item]
    for write_item in (
        "create_flow.upload_image",
        "create_flow.content_crud",
        "create_flow.frontend_wired",  # the browser's Create form writes
    ):
        assert items[write_item]["status"] == "not_verified", items[write_item]
        assert "writes not allowed on prod" in (items[write_item]["reason"] or "")
