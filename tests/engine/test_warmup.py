"""The embedded sandbox boots while the run collects and prepares its checks (warmup.py)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from promorang_gate import warmup

# Records, into booting.json, whether the sandbox was starting when each hook or job ran.
RECORDING_CONFTEST = """
import json, pathlib
from promorang_gate import state, warmup

SEEN = []

def _seen(what, config):
    provider = config.stash.get(state.SANDBOX, None)
    SEEN.append([what, provider is not None and provider.booting])
    pathlib.Path("booting.json").write_text(json.dumps(SEEN))

def pytest_collection_finish(session):
    _seen("collected", session.config)
    warmup.prepare(session.config, lambda request: _seen("job", request.config))
"""


class _Request:
    def __init__(self) -> None:
        self.config = pytest.Config.__new__(pytest.Config)
        self.config.stash = pytest.Stash()


def test_jobs_run_once_in_order_and_a_failing_job_is_left_to_its_check() -> None:
    request: Any = _Request()
    ran: list[str] = []

    def failing(_: object) -> None:
        ran.append("failing")
        raise RuntimeError("left for the check")

    def skipping(_: object) -> None:
        ran.append("skipping")
        pytest.skip("no Chromium")

    warmup.prepare(request.config, failing)
    warmup.prepare(request.config, skipping)
    warmup.prepare(request.config, lambda _: ran.append("last"))
    warmup.run_prepared(request)
    warmup.run_prepared(request)
    assert ran == ["failing", "skipping", "last"]


def test_working_jobs_run_beside_the_waiting_ones_and_are_done_before_the_checks() -> None:
    request: Any = _Request()
    main = threading.get_ident()
    helper_started = threading.Event()
    seen: dict[str, int] = {}

    def working(_: object) -> None:
        seen["working"] = threading.get_ident()
        helper_started.set()
        time.sleep(0.2)  # longer than the waiting job: run_prepared must still wait for it
        seen["working done"] = 1

    def waiting(_: object) -> None:
        assert helper_started.wait(10)  # the helper runs while this job waits
        seen["waiting"] = threading.get_ident()

    warmup.prepare(request.config, working)
    warmup.prepare(request.config, waiting, waits=True)
    warmup.run_prepared(request)
    assert seen["waiting"] == main != seen["working"]
    assert seen["working done"] == 1
    assert not [t for t in threading.enumerate() if t.name == "promorang-gate-warmup"]


@pytest.mark.slow  # starts a sandbox
def test_the_sandbox_boots_from_configure_and_the_jobs_run_while_it_does(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(RECORDING_CONFTEST)
    project.makepyfile(
        """
        import json, pathlib

        def test_first(gate_target):
            seen = json.loads(pathlib.Path("booting.json").read_text())
            assert seen == [["collected", True], ["job", True]]
            assert gate_target.name == "sandbox" and gate_target.api_url
        """
    )
    result = project.runpytest("--env", "sandbox", "--gate", "health")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("option", ["--collect-only", "--fixtures", "--markers"])
def test_a_run_without_tests_starts_no_sandbox(project: pytest.Pytester, option: str) -> None:
    project.makeconftest(RECORDING_CONFTEST)
    project.makepyfile("def test_first(gate_target):\n    pass\n")
    result = project.runpytest("--env", "sandbox", option)
    assert result.ret == 0
    seen = project.path / "booting.json"
    recorded = json.loads(seen.read_text()) if seen.exists() else []
    assert ["collected", False] in recorded or option == "--markers"  # collected, not started
    assert not [entry for entry in recorded if entry[1]]
