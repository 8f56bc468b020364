"""Ctrl-C and SIGTERM: what the run created goes before the process exits, within 10 s (then
the janitor's command is printed); a second Ctrl-C is honoured within a second."""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from promorang_gate.cleanup.interrupted import cleanup_after_interrupt
from promorang_gate.cleanup.janitor import token_user


@pytest.fixture
def db(sandbox: Any) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(sandbox.state.database_url, autocommit=True) as conn:
        yield conn


def _slow_sweep(seconds: float) -> Any:
    def sweep() -> dict[str, Any]:
        time.sleep(seconds)
        return {}

    return sweep


def test_cleanup_is_bounded_then_names_the_janitor() -> None:
    out = io.StringIO()
    started = time.monotonic()
    assert cleanup_after_interrupt(["staging"], _slow_sweep(30), out, bound_s=0.5) is None
    assert time.monotonic() - started < 1.5
    assert "not finished within 0.5 s; remove the rest: promorang-gate janitor --env staging" in (
        out.getvalue()
    )


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_raises")
def test_a_second_ctrl_c_is_honoured_within_a_second() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    out = io.StringIO()
    timer = threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    started = time.monotonic()
    cleanup_after_interrupt(["staging"], _slow_sweep(30), out)
    assert time.monotonic() - started < 1.3
    assert "cleanup stopped; remove the rest: promorang-gate janitor --env staging" in (
        out.getvalue()
    )


INTERRUPTED = """
import pytest
from promorang_gate.cleanup.tags import tagged_title

@pytest.mark.checklist("create_flow.content_crud")
def test_create(gate_supabase, gate_run_id):
    rows = gate_supabase.table("content_items")
    rows.insert({"title": tagged_title("unledgered", gate_run_id), "creator_id": "%s"}).execute()
    raise KeyboardInterrupt
"""


@pytest.mark.slow
def test_an_interrupted_run_removes_what_it_created(
    project: pytest.Pytester,
    sandbox: Any,
    db: Any,
    clean_env: pytest.MonkeyPatch,
) -> None:
    st = sandbox.state
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_LOCAL_{key}", st.supabase_url)
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", st.service_role_key)
    clean_env.setenv("GATE_LOCAL_CREATOR_TOKEN", st.creator_token)
    clean_env.setenv("GATE_LOCAL_BUCKET", st.bucket)
    project.makepyfile(INTERRUPTED % token_user(st.creator_token))
    result = project.runpytest_subprocess("--env", "local", "--gate", "full")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stderr.fnmatch_lines(["*interrupted: local: removed 1 thing(s)"])
    left = db.execute("select count(*) from content_items where title like '%unledgered%'")
    assert left.fetchone()[0] == 0
