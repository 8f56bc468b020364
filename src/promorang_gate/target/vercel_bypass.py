"""Vercel's Deployment Protection: previews (and production deployments not yet on the domain)
answer 401 unless a request carries ``x-vercel-protection-bypass``.

``GATE_<ENV>_VERCEL_BYPASS_SECRET`` gives the secret of an env; it is sent on every request to
that env's Vercel hosts (an API or frontend URL on ``*.vercel.app``) and to no other host, by
the HTTP client and by the browser alike. It is a secret like any other: redacted everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["HEADER", "BypassTransport", "VercelBypass"]

HEADER = "x-vercel-protection-bypass"
VERCEL_SUFFIX = ".vercel.app"


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


@dataclass(frozen=True)
class VercelBypass:
    """The hosts that get the header, and its value."""

    hosts: frozenset[str]
    secret: str

    @classmethod
    def of(cls, target: Any) -> VercelBypass | None:
        """None when the env has no bypass secret or no Vercel host."""
        secret = getattr(target, "vercel_bypass_secret", None)
        if not secret:
            return None
        urls = (getattr(target, "api_url", ""), getattr(target, "frontend_url", ""))
        hosts = frozenset(h for h in map(_host, urls) if h.endswith(VERCEL_SUFFIX))
        return cls(hosts, secret) if hosts else None

    def applies(self, url: str) -> bool:
        return _host(url) in self.hosts

    def headers_for(self, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with the bypass header set for a Vercel host, removed for any other."""
        kept = {k: v for k, v in headers.items() if k.lower() != HEADER}
        if self.applies(url):
            kept[HEADER] = self.secret
        return kept


class BypassTransport(httpx.BaseTransport):
    """Sets the header on requests to the env's Vercel hosts (redirect hops included) and makes
    sure no other host ever receives it."""

    def __init__(self, inner: httpx.BaseTransport, bypass: VercelBypass) -> None:
        self._inner = inner
        self.bypass = bypass

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if HEADER in request.headers:
            del request.headers[HEADER]
        if self.bypass.applies(str(request.url)):
            request.headers[HEADER] = self.bypass.secret
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
