"""Before any test runs: can each selected deployment be reached at all?

An environment whose hosts refuse connections would otherwise fail every test with a
connection traceback; instead the run stops with one line naming the host and the fix.
Connections are retried within the environment's readiness budget, so a deployment that is
still coming up is waited for; a host name that does not resolve fails at once.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from promorang_gate.errors import ConfigError
from promorang_gate.progress import Waiting
from promorang_gate.target.environments import URL_KEYS, URL_OPTIONS, Target

__all__ = ["check_reachable"]


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _connect(address: tuple[str, int], timeout_s: float) -> None:
    with socket.create_connection(address, timeout=timeout_s):
        pass


def _retryable(error: BaseException) -> bool:
    return isinstance(error, OSError) and not isinstance(error, socket.gaierror)


def _problem(address: tuple[str, int], target: Target, what: str) -> str | None:
    """None when a TCP connection succeeds within the readiness budget, else why not. A wait
    over two seconds says what it waits for and the time left (``progress.Waiting``)."""
    waiting = Waiting(what, target.readiness_budget_s)
    retrying = Retrying(
        stop=stop_after_delay(target.readiness_budget_s),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        retry=retry_if_exception(_retryable),
        before_sleep=lambda _state: waiting.tick(),
        reraise=True,
    )
    try:
        retrying(_connect, address, min(target.request_timeout_s, 5.0))
    except socket.gaierror:
        return f"host {address[0]!r} does not resolve"
    except OSError as error:
        return error.strerror or type(error).__name__
    finally:
        waiting.done()
    return None


def check_reachable(targets: Iterable[Target]) -> None:
    """Raises ConfigError naming the first unreachable host of the targets that want the check."""
    checked: set[tuple[str, int]] = set()
    for target in targets:
        if not target.preflight:
            continue
        for key in URL_KEYS:
            url = getattr(target, key)
            address = _address(url)
            if address in checked:
                continue
            problem = _problem(address, target, f"env '{target.name}' {key} {url} to answer")
            if problem is not None:
                variable = f"GATE_{target.name.upper()}_{key.upper()}"
                raise ConfigError(
                    f"env '{target.name}' is unreachable: {key} {url}: {problem} after "
                    f"{target.readiness_budget_s:g}s; start it, or point {variable} "
                    f"(or {URL_OPTIONS[key]}) at a running deployment"
                )
            checked.add(address)
