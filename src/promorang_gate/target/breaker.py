"""A run-level bound per origin: an origin that stops answering is given up on for the run.

Each request has its own total deadline (``bounded.py``), but a run sends hundreds: against a
black hole or a trickling target they would add up to many minutes. Every HTTP path of the gate
(``GateHttp`` and so the Supabase clients, the contract's transport, the browser checks) reports
here whether an origin answered in time. After ``STREAK`` timeouts in a row on at least two
different paths, or ``STREAK_BUDGET_S`` seconds spent waiting on such a streak, the origin is
given up: every further request to it fails at once, before sending, with :func:`reason`.

One slow endpoint never trips it (a streak needs two paths, and any complete answer from the
origin ends the streak). The state is per process: each xdist worker has its own, and a run
starts with none (``reset`` at configure).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "STREAK",
    "STREAK_BUDGET_S",
    "answered",
    "origin_of",
    "reason",
    "reset",
    "timed_out",
]

#: Timeouts in a row (over at least two paths) after which an origin is given up for the run.
STREAK = 3
#: Seconds of waiting on a streak of timeouts (over at least two paths) that give it up too.
STREAK_BUDGET_S = 30.0
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass
class _Origin:
    timeouts: int = 0
    waited_s: float = 0.0
    paths: set[str] = field(default_factory=set)
    given_up: str | None = None


_lock = threading.Lock()
_origins: dict[str, _Origin] = {}


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def reset() -> None:
    """Forget every origin (a new run)."""
    with _lock:
        _origins.clear()


def reason(url: str) -> str | None:
    """Why no request to ``url``'s origin is sent any more, or None while it may be."""
    with _lock:
        state = _origins.get(origin_of(url))
        return state.given_up if state is not None else None


def refuse(url: str, what: str, error: Callable[[str], Exception]) -> None:
    """Raises ``error("<what> not sent: <reason>")`` when ``url``'s origin was given up: each
    HTTP path refuses with its own library's exception, in the same words."""
    given_up = reason(url)
    if given_up is not None:
        raise error(f"{what} not sent: {given_up}")


def answered(url: str) -> None:
    """The origin gave a complete answer in time: its streak of timeouts ends."""
    with _lock:
        state = _origins.get(origin_of(url))
        if state is not None and state.given_up is None:
            _origins[origin_of(url)] = _Origin()


def timed_out(url: str, waited_s: float) -> None:
    """A request to ``url`` got no complete answer within its bounds after ``waited_s``."""
    origin = origin_of(url)
    with _lock:
        state = _origins.setdefault(origin, _Origin())
        if state.given_up is not None:
            return
        state.timeouts += 1
        state.waited_s += max(0.0, waited_s)
        state.paths.add(urlsplit(url).path or "/")
        if len(state.paths) < 2:
            return
        if state.timeouts >= STREAK or state.waited_s >= STREAK_BUDGET_S:
            state.given_up = (
                f"{origin} did not answer: {state.timeouts} requests timed out"
                f" ({state.waited_s:.0f} s waited); no further requests are sent this run"
            )
