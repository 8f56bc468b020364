"""Polling with a deadline (tenacity): wait while a target is not answering yet, never a fixed
sleep, and never past a definite answer.

Only two things are retried: a transport failure (refused, reset, timed out) and an answer of
502, 503 or 504 (a deployment still coming up behind its proxy). Any other answer is final at
once: a health endpoint answering 200 with a wrong body, or 404, fails in seconds, not after the
readiness budget. Nor is an origin the run has given up on (``breaker.py``): it is not waited for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from promorang_gate.target.bounded import OriginUnavailable

__all__ = ["RETRYABLE", "STARTING_STATUSES", "NotReady", "StillStarting", "wait_ready"]

T = TypeVar("T")
STARTING_STATUSES = frozenset({502, 503, 504})
_MAX_WAIT_S = 1.0


class StillStarting(Exception):
    """Raise from a probe for a state that may pass once the target has started."""


RETRYABLE: tuple[type[BaseException], ...] = (httpx.TransportError, StillStarting)


class NotReady(AssertionError):
    """The target kept not answering until the readiness budget was spent."""

    def __init__(self, message: str, attempts: int, last_error: BaseException | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


def _identity(text: str) -> str:
    return text


def _starting(result: object) -> bool:
    return isinstance(result, httpx.Response) and result.status_code in STARTING_STATUSES


def _describe_attempt(state: RetryCallState, redact: Callable[[str], str]) -> str:
    outcome = state.outcome
    if outcome is None:
        return "no outcome recorded"
    if outcome.failed:
        exc = outcome.exception()
        if exc is None:
            return "no error recorded"
        # Redacted whole, then cut to its first line: a secret across the cut must not survive.
        text = redact(str(exc)).strip()
        line = text.splitlines()[0] if text else ""
        return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    response = outcome.result()
    request = response.request
    return redact(f"{request.method} {request.url.path} answered {response.status_code}")


def wait_ready(
    probe: Callable[[], T],
    *,
    what: str,
    budget_s: float,
    interval_s: float = 0.25,
    log: Callable[[str], None],
    redact: Callable[[str], str] | None = None,
) -> T:
    """Call ``probe`` until it answers: retried on transport errors, ``StillStarting`` and
    responses of 502/503/504, within ``budget_s``; anything else is returned or raised at once."""
    redact = redact or _identity
    max_attempts = max(2, math.ceil(budget_s / max(interval_s, 0.01)) + 1)
    backoff = wait_exponential(multiplier=interval_s, min=interval_s, max=_MAX_WAIT_S)

    def wait(state: RetryCallState) -> float:
        # Never sleep past the deadline: the last attempt happens right at the budget.
        remaining = budget_s - (state.seconds_since_start or 0.0)
        return max(0.0, min(backoff(state), remaining))

    def before_sleep(state: RetryCallState) -> None:
        elapsed = state.seconds_since_start or 0.0
        log(
            f"{what}: attempt {state.attempt_number} failed after {elapsed:.2f}s: "
            f"{_describe_attempt(state, redact)}"
        )

    retrying = Retrying(
        stop=stop_after_delay(budget_s) | stop_after_attempt(max_attempts),
        wait=wait,
        retry=(
            retry_if_exception_type(RETRYABLE) & retry_if_not_exception_type(OriginUnavailable)
            | retry_if_result(_starting)
        ),
        before_sleep=before_sleep,
        reraise=False,
    )
    started = time.monotonic()
    try:
        return retrying(probe)
    except RetryError as err:
        last = err.last_attempt
        elapsed = time.monotonic() - started
        state = RetryCallState(retrying, None, (), {})
        state.outcome = last
        last_text = _describe_attempt(state, redact)
        log(f"{what}: attempt {last.attempt_number} failed after {elapsed:.2f}s: {last_text}")
        message = (
            f"{what}: not ready after {last.attempt_number} attempts in {elapsed:.2f}s "
            f"(budget {budget_s:g}s); last: {last_text}"
        )
        log(message)
        error = last.exception() if last.failed else None
        raise NotReady(message, last.attempt_number, error) from None
