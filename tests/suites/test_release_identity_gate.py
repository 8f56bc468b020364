"""release.identity against deployments configured by variables: the sandbox's build compared
with a release commit it is not, and a deployment that states no identity at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from project_helpers import ENDPOINTS, env_at_sandbox

OTHER = "0123456789abcdef0123456789abcdef01234567"
RUN = ["smoke/test_release_identity.py", "--env", "staging"]


def test_a_deployment_of_another_commit_fails(run_gate_inprocess: Any, sandbox: Any) -> None:
    env = env_at_sandbox(sandbox.state, "staging", *ENDPOINTS, "DATABASE_URL")
    run = run_gate_inprocess([*RUN, "--expect-commit", OTHER], env=env)
    item = run.items("staging")["release.identity"]
    assert item["status"] == "failed", run.output
    assert item["reason"].startswith(f"the deployment is not the release {OTHER[:12]}")
    identity = run.gate("staging")["identity"]
    assert identity["expected_commit"] == OTHER
    assert identity["api_source"] == "health"
    assert identity["migration_version"] == "202510290101"
    agreed = run_gate_inprocess(
        RUN, env={**env, "GATE_STAGING_EXPECT_COMMIT": identity["api_commit"]}
    )
    assert agreed.items("staging")["release.identity"]["status"] == "passed", agreed.output


class _Silent(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def silent_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_deployment_stating_nothing_is_not_verified(
    run_gate_inprocess: Any, sandbox: Any, silent_host: str
) -> None:
    env = {
        **env_at_sandbox(sandbox.state, "staging", "SUPABASE_URL", "SERVICE_ROLE_KEY"),
        "GATE_STAGING_API_URL": silent_host,
        "GATE_STAGING_FRONTEND_URL": silent_host,
    }
    run = run_gate_inprocess([*RUN, "--expect-commit", OTHER], env=env)
    item = run.items("staging")["release.identity"]
    assert item["status"] == "not_verified", run.output
    assert "no deployed identity can be read" in item["reason"]
    assert "GATE_STAGING_VERCEL_TOKEN" in item["reason"]
    assert "release.identity" in run.gate("staging")["gate"]["required"]
