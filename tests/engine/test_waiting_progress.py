"""A wait longer than two seconds says what it waits for and the time left: an unreachable API
ends within its stated budget, with progress lines (plain in CI, in place on a terminal)."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pytest

from promorang_gate.check_config import check_config
from promorang_gate.errors import ConfigError
from promorang_gate.progress import Waiting


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_an_unreachable_api_ends_within_its_budget_with_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{_closed_port()}"
    environ = {
        "GATE_STAGING_API_URL": api,
        "GATE_STAGING_FRONTEND_URL": "http://127.0.0.1:9",
        "GATE_STAGING_SUPABASE_URL": "http://127.0.0.1:9",
        "GATE_STAGING_SERVICE_ROLE_KEY": "service-role-canary-0123456789",
        "GATE_STAGING_READINESS_BUDGET_S": "4",
    }
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        check_config(["staging"], tmp_path, environ, out=io.StringIO())
    elapsed = time.monotonic() - started
    # The budget, and room for a loaded machine (6.5 s seen with three busy workers).
    assert 4 <= elapsed < 8
    assert str(caught.value).startswith(f"env 'staging' is unreachable: api_url {api}: ")
    err = capsys.readouterr().err
    assert f"promorang-gate: waiting for env 'staging' api_url {api} to answer (" in err
    assert " s left of 4 s)" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_quiet_at_first_then_plain_or_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    plain, tty = io.StringIO(), _Terminal()
    waits = [Waiting("the API", 30, plain), Waiting("the API", 30, tty)]
    for now in (101.0, 102.5, 103.0, 108.0):
        clock[0] = now
        for wait in waits:
            wait.tick()
    for wait in waits:
        wait.done()
    assert plain.getvalue().splitlines() == [
        "promorang-gate: waiting for the API (28 s left of 30 s)",  # none before 2 s
        "promorang-gate: waiting for the API (22 s left of 30 s)",  # then every 5 s
    ]
    assert tty.getvalue().count("\r\x1b[2K") == 4  # three ticks in place, then cleared
    assert tty.getvalue().endswith("\r\x1b[2K")
