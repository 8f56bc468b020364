"""Real traffic's error rate: the sandbox API counts its answers at /metrics (prometheus_client)
and the watch reads the env's PromQL error ratio from a Prometheus-compatible endpoint."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from watch_helpers import watch

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import Target
from promorang_gate.watch.items import judge, watch_specs
from promorang_gate.watch.measures import PrometheusReader, Reading
from promorang_gate.watch.probes import ProbeResult
from promorang_gate.watch.run import Exit
from promorang_gate.watch.windows import Interval, Series

REPO = Path(__file__).resolve().parents[2]
# Without a 5xx series the numerator is empty (not 0): `or vector(0)` keeps the ratio defined.
QUERY = (
    '(sum(rate(http_requests_total{code=~"5.."}[1m])) or vector(0))'
    " / sum(rate(http_requests_total[1m]))"
)


def _target() -> Target:
    from test_probes import _target as probe_target

    target: Target = probe_target()
    return dataclasses.replace(target, name="prod")


def _prometheus(body: Any, status: int = 200) -> PrometheusReader:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        assert request.url.params["query"] == QUERY
        return httpx.Response(status, json=body)

    transport = httpx.MockTransport(answer)
    return PrometheusReader(_target(), "http://prom.test", QUERY, Redactor(), transport)


def _vector(value: str) -> dict[str, Any]:
    result = [{"metric": {}, "value": [1700000000.0, value]}]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_the_query_answer_is_the_reading() -> None:
    assert _prometheus(_vector("0.031")).read().value == pytest.approx(0.031)
    nan = _prometheus(_vector("NaN")).read()
    assert nan.value is None
    assert "no request in the window" in (nan.missing or "")
    empty = _prometheus({"status": "success", "data": {"result": []}}).read()
    assert "no series" in (empty.missing or "")
    refused = _prometheus({"status": "error", "error": "parse error"}, status=400).read()
    assert (refused.missing or "").startswith("Prometheus answered 400")


def test_real_traffic_judges_the_error_rate_item() -> None:
    from promorang_gate.decision.checklists import load_catalog
    from promorang_gate.decision.gates import load_gates

    catalog = load_catalog(REPO / "checklists")
    spec = next(
        s
        for s in watch_specs(catalog, load_gates(catalog)["watch"].requires)
        if s.measure == "error_rate"
    )
    series = Series()
    probes = [ProbeResult("health", "GET", "/api/health", 0, 0.01, 200)]
    series.add(Interval(0, 0, 1, probes, {"real_error_rate": Reading(0.05, {"query": QUERY})}))
    judged = judge(spec, series)
    assert judged.state == "breach"
    assert dict(judged.figures)["source"] == "prometheus"
    series.add(Interval(1, 1, 2, probes, {"real_error_rate": Reading(None, {}, "NaN")}))
    assert judge(spec, series).state == "no_data"


def test_the_sandbox_api_counts_its_answers(sandbox: Any) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    api = sandbox.state.api_url
    httpx.get(f"{api}/api/health", timeout=10)
    text = httpx.get(f"{api}/metrics", timeout=10).text
    samples = [
        s
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "http_requests_total"
    ]
    ok = [s for s in samples if s.labels == {"method": "GET", "code": "200"}]
    assert ok
    assert ok[0].value >= 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="no Prometheus server here (Debian: apt-get install prometheus)",
)
def test_a_real_prometheus_scraping_the_sandbox_feeds_the_watch(
    sandbox: Any, sandbox_state_file: Path, tmp_path: Path
) -> None:
    api = httpx.URL(sandbox.state.api_url)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: sandbox\n    static_configs: [{{targets: ['{api.host}:{api.port}']}}]\n"
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # ready, and two scrapes for rate()
            try:
                got = httpx.get(f"{url}/api/v1/query", params={"query": QUERY}, timeout=2)
                if got.json()["data"]["result"]:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            httpx.get(f"{sandbox.state.api_url}/api/health", timeout=5)
            time.sleep(0.5)
        extra = {"GATE_SANDBOX_PROMETHEUS_URL": url, "GATE_SANDBOX_ERROR_RATE_QUERY": QUERY}
        code, output, data = watch(sandbox_state_file, tmp_path / "reports", extra=extra)
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert code == Exit.ALLOW, output
    assert data["error_rate_source"].startswith("real traffic (Prometheus")
    error = next(i for i in data["items"] if i["id"] == "watch.error_rate")
    assert error["judgements"][-1]["figures"]["source"] == "prometheus"
