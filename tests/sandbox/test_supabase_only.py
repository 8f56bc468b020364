"""`promorang-sandbox up --supabase-only --print-env backend`: the database and the gateway
alone, and the variables an engineer's own backend (and `pytest --env local`) reads."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from promorang_sandbox.database import CREATOR_EMAIL, CREATOR_PASSWORD
from promorang_sandbox.jwtkeys import SERVICE_ROLE_KEY


@pytest.mark.slow
def test_supabase_only_serves_the_gateway_and_prints_the_backends_variables() -> None:
    command = [sys.executable, "-m", "promorang_sandbox", "up", "--supabase-only"]
    process = subprocess.Popen(
        [*command, "--print-env", "backend"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while "GATE_LOCAL_OTHER_USER_PASSWORD" not in env and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            key, _, value = line.strip().partition("=")
            env[key] = value
        assert env["SUPABASE_SERVICE_KEY"] == env["SUPABASE_SERVICE_ROLE_KEY"] == SERVICE_ROLE_KEY
        assert env["GATE_LOCAL_SUPABASE_URL"] == env["SUPABASE_URL"]
        assert env["JWT_SECRET"]
        url = env["SUPABASE_URL"]
        signed = httpx.post(
            f"{url}/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": CREATOR_EMAIL, "password": CREATOR_PASSWORD},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        key = {"apikey": SERVICE_ROLE_KEY, "Authorization": f"Bearer {SERVICE_ROLE_KEY}"}
        buckets = httpx.get(f"{url}/storage/v1/bucket", headers=key, timeout=10)
        assert "content-media" in {b["id"] for b in buckets.json()}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
