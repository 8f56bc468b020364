"""wait_ready: tenacity polling within a budget; attempts logged, NotReady when spent."""

from __future__ import annotations

import inspect
import re

import httpx
import pytest

from promorang_gate.target import readiness
from promorang_gate.target.readiness import NotReady, StillStarting, wait_ready


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ready"


def test_succeeds_after_failures_within_budget() -> None:
    lines: list[str] = []
    probe = Flaky(3, StillStarting("status 503"))
    assert wait_ready(probe, what="health", budget_s=5.0, interval_s=0.01, log=lines.append) == (
        "ready"
    )
    assert probe.calls == 4
    assert len(lines) == 3
    assert lines[0].startswith("health: attempt 1 failed after ")
    assert lines[2].startswith("health: attempt 3 failed after ")
    assert lines[2].endswith(": StillStarting: status 503")


def test_httpx_errors_are_retried() -> None:
    probe = Flaky(2, httpx.ConnectError("connection refused"))
    assert wait_ready(probe, what="api", budget_s=5.0, interval_s=0.01, log=lambda _: None)
    assert probe.calls == 3


@pytest.mark.parametrize("error", [KeyError("bug"), AssertionError("wrong body")])
def test_definite_failures_are_not_retried(error: Exception) -> None:
    probe = Flaky(5, error)
    with pytest.raises(type(error)):
        wait_ready(probe, what="api", budget_s=5.0, interval_s=0.01, log=lambda _: None)
    assert probe.calls == 1


def _response(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://api.test/api/health"))


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_starting_proxy_status_is_retried(status: int) -> None:
    answers = iter([_response(status), _response(status), _response(200)])
    result = wait_ready(
        lambda: next(answers), what="api", budget_s=5.0, interval_s=0.01, log=lambda _: None
    )
    assert result.status_code == 200


@pytest.mark.parametrize("status", [200, 404, 500])
def test_any_other_answer_is_final_at_once(status: int) -> None:
    calls: list[int] = []

    def probe() -> httpx.Response:
        calls.append(1)
        return _response(status)

    assert wait_ready(probe, what="api", budget_s=5.0, log=lambda _: None).status_code == status
    assert calls == [1]


def test_still_503_after_the_budget_is_not_ready() -> None:
    lines: list[str] = []
    with pytest.raises(NotReady) as info:
        wait_ready(
            lambda: _response(503), what="api", budget_s=0.2, interval_s=0.02, log=lines.append
        )
    assert "last: GET /api/health answered 503" in str(info.value)


def test_not_ready_after_budget_with_attempts_and_last_error() -> None:
    lines: list[str] = []
    probe = Flaky(10_000, StillStarting("token=sk-secret-123456 still 503"))
    with pytest.raises(NotReady) as info:
        wait_ready(
            probe,
            what="health",
            budget_s=0.3,
            interval_s=0.02,
            log=lines.append,
            redact=lambda t: t.replace("sk-secret-123456", "[REDACTED]"),
        )
    err = info.value
    assert isinstance(err, AssertionError)
    assert err.attempts == probe.calls >= 3
    assert f"health: not ready after {probe.calls} attempts" in str(err)
    assert "(budget 0.3s); last: StillStarting: token=[REDACTED] still 503" in str(err)
    assert len([line for line in lines if ": attempt " in line]) == probe.calls
    assert all("sk-secret" not in line for line in lines)
    assert err.__cause__ is None


def test_no_fixed_sleep_in_the_code_under_test() -> None:
    source = inspect.getsource(readiness)
    assert "time.sleep" not in source
    assert re.search(r"(?<![\w.])sleep\(", source) is None
