"""Read-only probes of one environment, each timed and its outcome recorded.

Every request goes through ``GateHttp``: bounded (deadline, body limit, same-origin redirects)
and guarded (a write to an env without writes is refused before sending). The watch only
reads: health, the read-only contract operations, a known public content item, the bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import Target
from promorang_gate.target.http import GateHttp

__all__ = ["PROBES", "ProbeResult", "Prober"]

#: name -> (service, path template); ``{content_id}`` and ``{bucket}`` are filled in.
PROBES: dict[str, tuple[str, str]] = {
    "health": ("api", "/api/health"),
    "list_content": ("api", "/api/content?page=1&limit=1"),
    "get_content": ("api", "/api/content/{content_id}"),
    "bucket": ("supabase", "/storage/v1/bucket/{bucket}"),
}


@dataclass(frozen=True)
class ProbeResult:
    """One request: when (seconds since the watch began), how long, what came back."""

    probe: str
    method: str
    path: str
    at_s: float
    latency_s: float
    status: int | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """A server error or no response at all (the runbook's "API error")."""
        return self.status is None or self.status >= 500

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = self.failed
        return data


class Prober:
    """The probes of one target, over two bounded clients (API and Supabase)."""

    def __init__(
        self,
        target: Target,
        redactor: Redactor,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self._clock = clock
        self._started = clock()
        # A probe may never outlast the env's request timeout, whatever its deadline says.
        deadline = min(target.request_deadline_s, target.request_timeout_s)
        common: dict[str, Any] = {
            "timeout_s": target.request_timeout_s,
            "writes_allowed": target.writes_allowed,
            "redactor": redactor,
            "attach": False,
            "transport": transport,
            "deadline_s": deadline,
            "max_body_bytes": target.max_body_bytes,
            "use_breaker": False,  # the watch measures an outage, it does not give up on it
        }
        key = target.service_role_key
        # The platform's clients read the Create flow with the user's token (its newest build
        # refuses anonymous reads): the probes read as they do, when a creator token is given.
        user = {"Authorization": f"Bearer {target.creator_token}"} if target.creator_token else {}
        self.clients = {
            "api": GateHttp(target.name, target.api_url, default_headers=user, **common),
            "supabase": GateHttp(
                target.name,
                target.supabase_url,
                default_headers={"apikey": key, "Authorization": f"Bearer {key}"},
                **common,
            ),
        }
        self.content_id: str | None = None

    def elapsed(self) -> float:
        return self._clock() - self._started

    def discover_content(self) -> str | None:
        """A public content item to read back every interval: the first of the listing."""
        try:
            response = self.clients["api"].get("/api/content", params={"page": 1, "limit": 1})
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        items = body.get("data") if isinstance(body, dict) else body
        if isinstance(items, list) and items and isinstance(items[0], dict):
            found = items[0].get("id")
            self.content_id = str(found) if found is not None else None
        return self.content_id

    def paths(self) -> list[tuple[str, str, str]]:
        """(probe, service, path) of this interval; without a known item, no item probe."""
        fill = {"content_id": self.content_id or "", "bucket": self.target.bucket}
        return [
            (name, service, template.format(**fill))
            for name, (service, template) in PROBES.items()
            if name != "get_content" or self.content_id
        ]

    def probe(self, name: str, service: str, path: str) -> ProbeResult:
        at = self.elapsed()
        started = self._clock()
        status: int | None = None
        error: str | None = None
        try:
            status = self.clients[service].get(path).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {self.clients[service].redactor.one_line(exc, 200)}"
        latency = self._clock() - started
        return ProbeResult(name, "GET", path.split("?", 1)[0], at, latency, status, error)

    def run(self) -> list[ProbeResult]:
        """One round of every probe, in order."""
        return [self.probe(name, service, path) for name, service, path in self.paths()]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
