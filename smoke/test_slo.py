"""Create-flow monitoring thresholds (runbook section 6), measured by the gate itself over a
sample of real uploads sent with bounded concurrency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from _support import new_upload, object_path_of
from promorang_gate.reporting.latency_chart import percentile
from promorang_gate.target.http import OriginUnavailable

pytestmark = [pytest.mark.create_flow, pytest.mark.slo]


@dataclass
class UploadSample:
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies_s)

    def figures(self) -> dict[str, float | int]:
        return {
            "uploads": self.count,
            "p50_s": round(percentile(self.latencies_s, 0.50), 4),
            "p95_s": round(percentile(self.latencies_s, 0.95), 4),
            "max_s": round(max(self.latencies_s), 4),
            "failures": len(self.failures),
            "fallbacks": len(self.fallbacks),
        }


def _upload_once(gate_api: Any, run_id: str, target: Any, created: list[str]) -> tuple[float, str]:
    """One timed upload; returns (latency, outcome): ok, "fallback: <reason>" or failure text."""
    probe = new_upload(run_id, "slo")
    started = time.perf_counter()
    try:
        response = gate_api.post("/api/content/upload-image", json=probe.payload())
    except OriginUnavailable:
        raise  # not sent: no latency was measured (the API stopped answering earlier)
    except httpx.HTTPError as error:
        return time.perf_counter() - started, f"failure: {type(error).__name__}"
    latency = time.perf_counter() - started
    if response.status_code != 201:
        return latency, f"failure: HTTP {response.status_code}"
    body = response.json()
    path = object_path_of(str(body.get("imageUrl", "")), target.supabase_url, target.bucket)
    if path is not None:
        created.append(path)
    if body.get("fallback"):
        return latency, f"fallback: {body.get('fallbackReason')!r}"
    return latency, "ok"


@pytest.fixture(scope="module")
def upload_sample(
    gate_target: Any, gate_api: Any, gate_run_id: str, gate_ledger_factory: Any
) -> Iterator[UploadSample]:
    """Sends `slo_uploads` uploads, `slo_concurrency` at a time; removes every stored object."""
    created: list[str] = []
    sample = UploadSample()
    try:
        with ThreadPoolExecutor(max_workers=gate_target.slo_concurrency) as pool:
            runs = [
                pool.submit(_upload_once, gate_api, gate_run_id, gate_target, created)
                for _ in range(gate_target.slo_uploads)
            ]
            for run in runs:
                latency, outcome = run.result()
                sample.latencies_s.append(latency)
                if outcome.startswith("failure"):
                    sample.failures.append(outcome)
                elif outcome.startswith("fallback"):
                    sample.fallbacks.append(outcome)
        yield sample
    finally:
        if created:
            ledger = gate_ledger_factory()
            for path in created:
                ledger.object(gate_target.bucket, path)
            ledger.cleanup()


@pytest.mark.checklist("slo.upload_latency_p95")
def test_upload_latency_p95_within_budget(
    gate_target: Any, upload_sample: UploadSample, gate_metrics: Any
) -> None:
    figures = upload_sample.figures()
    gate_metrics.record("upload_latency", figures)
    gate_metrics.attach_histogram(upload_sample.latencies_s, gate_target.latency_p95_budget_s)
    assert figures["p95_s"] < gate_target.latency_p95_budget_s, (
        f"upload latency p95 {figures['p95_s']}s is not below {gate_target.latency_p95_budget_s}s "
        f"over {figures['uploads']} uploads (p50 {figures['p50_s']}s, max {figures['max_s']}s)"
    )


@pytest.mark.checklist("slo.upload_failure_rate")
def test_upload_failure_and_fallback_rates_within_budget(
    gate_target: Any, upload_sample: UploadSample, gate_metrics: Any
) -> None:
    failure_rate = len(upload_sample.failures) / upload_sample.count
    fallback_rate = len(upload_sample.fallbacks) / upload_sample.count
    gate_metrics.record(
        "upload_rates",
        {
            "uploads": upload_sample.count,
            "failure_rate": failure_rate,
            "fallback_rate": fallback_rate,
        },
    )
    assert failure_rate < gate_target.failure_rate_budget, (
        f"upload failure rate {failure_rate:.1%} is not below "
        f"{gate_target.failure_rate_budget:.0%} ({sorted(set(upload_sample.failures))})"
    )
    assert fallback_rate < gate_target.fallback_rate_budget, (
        f"upload fallback rate {fallback_rate:.1%} is not below "
        f"{gate_target.fallback_rate_budget:.0%}: uploads are served from the fallback"
        f" ({sorted(set(upload_sample.fallbacks))})"
    )


@pytest.mark.checklist("slo.upload_no_regression")
def test_upload_latency_p95_no_worse_than_the_last_allowed_run(
    gate_baseline: Any, upload_sample: UploadSample, gate_metrics: Any
) -> None:
    p95_s = upload_sample.figures()["p95_s"]
    gate_metrics.record("upload_regression", gate_baseline.figures(p95_s))
    baseline, limit_s = gate_baseline.baseline, gate_baseline.limit_s
    assert not gate_baseline.regressed(p95_s), (
        f"upload latency p95 {p95_s}s is worse than the last allowed run's by more than the"
        f" declared margin (limit {limit_s:.3f}s; baseline {baseline.describe()})"
    )
