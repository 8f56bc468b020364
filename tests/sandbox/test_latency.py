"""The sandbox answers at loopback speed: a kept-alive client's median request to each of its
three servers takes single-digit milliseconds (every gate run and proof pays this per request)."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from promorang_sandbox import SandboxHandle

REQUESTS = 50


def _median_ms(client: httpx.Client, path: str) -> float:
    client.get(path)  # the connection is opened once, then kept alive
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(timings)


@pytest.mark.parametrize("server", ["api", "gateway", "frontend"])
def test_kept_alive_requests_take_single_digit_milliseconds(
    promorang_sandbox: SandboxHandle, server: str
) -> None:
    state = promorang_sandbox.state
    key = state.service_role_key
    base, path, headers = {
        "api": (state.api_url, "/api/health", {}),
        "gateway": (
            state.supabase_url,
            "/rest/v1/content_items?select=id&limit=1",
            {"apikey": key, "Authorization": f"Bearer {key}"},
        ),
        "frontend": (state.frontend_url, "/create", {}),
    }[server]
    with httpx.Client(base_url=base, headers=headers, timeout=5.0) as client:
        median = _median_ms(client, path)
    assert median < 10, f"{server}: median {median:.1f} ms over {REQUESTS} kept-alive requests"
