"""Opening the page a browser check is about."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["PageNotServed", "open_page"]


class PageNotServed(AssertionError):
    """The frontend answered the page's own address with a server error."""


def open_page(page: Any, url: str) -> None:
    """``page.goto(url)``. A server error answering the document itself fails at once, with its
    status: the check's next steps would wait their whole timeout for a heading or a form that a
    5xx page never shows, and then name the missing heading instead of the status. Other
    statuses go on (an app may boot from a 404 page)."""
    response = page.goto(url)
    if response is not None and response.status >= 500:
        path = urlsplit(url).path or "/"
        raise PageNotServed(
            f"GET {path} answered {response.status}: the frontend serves no page there"
        )
