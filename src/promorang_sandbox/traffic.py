"""The API's real-traffic figures as Prometheus reads them: ``GET /metrics`` (prometheus_client)
counts every answered request by method and status code, so a Prometheus scraping the sandbox
can compute the error ratio the watch queries (``GATE_<ENV>_PROMETHEUS_URL``)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

__all__ = ["METRICS_PATH", "TrafficMetrics"]

METRICS_PATH = "/metrics"
#: The PromQL expression of the API's error ratio over the runbook's 5-minute window.
# Without a 5xx series the numerator is empty (not 0): `or vector(0)` keeps the ratio defined.
ERROR_RATIO_QUERY = (
    '(sum(rate(http_requests_total{code=~"5.."}[5m])) or vector(0))'
    " / sum(rate(http_requests_total[5m]))"
)


class TrafficMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "Requests the API answered, by method and status code",
            ["method", "code"],
            registry=self.registry,
        )

    def observe(self, method: str, status: int) -> None:
        self.requests.labels(method=method, code=str(status)).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
