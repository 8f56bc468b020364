"""The contract's transport: a requests session that refuses, before sending, every write on an
environment without writes and every request the contract does not document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from promorang_gate.contract.errors import UndocumentedRequest
from promorang_gate.contract.spec import DocumentedPaths

__all__ = ["GuardAdapter", "guarded_session"]

WriteCheck = Callable[[str, str], None]


class GuardAdapter(HTTPAdapter):
    """Refuses before sending: writes on read-only envs, anything the contract omits."""

    def __init__(self, *, api_url: str, documented: DocumentedPaths, check_write: WriteCheck):
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.base_path = urlsplit(self.api_url).path
        self.documented = documented
        self.check_write = check_write

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        method, url = str(request.method), str(request.url)
        self.check_write(method, url)  # raises WriteRefused (a skip) on read-only envs
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path[len(self.base_path) :] if parts.path.startswith(self.base_path) else None
        if not self.api_url.startswith(origin) or path is None:
            raise UndocumentedRequest(f"{method} {url} is outside the API under test; not sent")
        if not self.documented.allows(method, path):
            raise UndocumentedRequest(f"{method} {path} is not in the contract; not sent")
        return super().send(request, *args, **kwargs)


def guarded_session(
    api_url: str, documented: DocumentedPaths, check_write: WriteCheck
) -> requests.Session:
    """A requests session whose every request passes :class:`GuardAdapter`."""
    session = requests.Session()
    adapter = GuardAdapter(api_url=api_url, documented=documented, check_write=check_write)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
