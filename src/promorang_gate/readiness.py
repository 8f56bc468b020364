"""Polling with a deadline (tenacity): wait until a probe stops raising, never a fixed sleep."""

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
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

__all__ = ["RETRYABLE", "NotReady", "wait_ready"]

T = TypeVar("T")
RETRYABLE: tuple[type[BaseException], ...] = (AssertionError, httpx.HTTPError)
_MAX_WAIT_S = 1.0


class NotReady(AssertionError):
    """The probe kept failing until the readiness budget was spent."""

    def __init__(self, message: str, attempts: int, last_error: BaseException | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


def _identity(text: str) -> str:
    return text


def _describe(exc: BaseException | None, redact: Callable[[str], str]) -> str:
    if exc is None:
        return "no error recorded"
    # Redacted whole, then cut to its first line: a secret across the cut must not half-survive.
    text = redact(str(exc)).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def wait_ready(
    probe: Callable[[], T],
    *,
    what: str,
    budget_s: float,
    interval_s: float = 0.25,
    log: Callable[[str], None],
    redact: Callable[[str], str] | None = None,
) -> T:
    """Call ``probe`` until it returns; retry on assertion and httpx errors within ``budget_s``."""
    redact = redact or _identity
    max_attempts = max(2, math.ceil(budget_s / max(interval_s, 0.01)) + 1)
    backoff = wait_exponential(multiplier=interval_s, min=interval_s, max=_MAX_WAIT_S)

    def wait(state: RetryCallState) -> float:
        # Never sleep past the deadline: the last attempt happens right at the budget.
        remaining = budget_s - (state.seconds_since_start or 0.0)
        return max(0.0, min(backoff(state), remaining))

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        elapsed = state.seconds_since_start or 0.0
        log(
            f"{what}: attempt {state.attempt_number} failed after {elapsed:.2f}s: "
            f"{_describe(error, redact)}"
        )

    retrying = Retrying(
        stop=stop_after_delay(budget_s) | stop_after_attempt(max_attempts),
        wait=wait,
        retry=retry_if_exception_type(RETRYABLE),
        before_sleep=before_sleep,
        reraise=False,
    )
    started = time.monotonic()
    try:
        return retrying(probe)
    except RetryError as err:
        last = err.last_attempt
        error = last.exception()
        elapsed = time.monotonic() - started
        log(
            f"{what}: attempt {last.attempt_number} failed after {elapsed:.2f}s: "
            f"{_describe(error, redact)}"
        )
        message = (
            f"{what}: not ready after {last.attempt_number} attempts in {elapsed:.2f}s "
            f"(budget {budget_s:g}s); last error: {_describe(error, redact)}"
        )
        log(message)
        raise NotReady(message, last.attempt_number, error) from None
