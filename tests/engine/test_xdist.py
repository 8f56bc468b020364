"""Under xdist the verdict is computed once, on the controller, and equals a single-process one."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest
from engine_helpers import assert_usage_error, gate_file

SUITE = """
import pytest

@pytest.mark.checklist("health.api")
@pytest.mark.parametrize("n", range(4))
def test_api(gate_target, gate_metrics, n):
    gate_metrics.record("n_max", 3)
    assert gate_target.name == "local"

@pytest.mark.checklist("health.frontend")
def test_frontend(gate_target):
    pytest.skip("no frontend")

@pytest.mark.checklist("slo.upload_latency_p95")
def test_latency(gate_target):
    assert False, "too slow"

@pytest.mark.checklist("growth_hub.migrations_applied")
def test_migrations(gate_target):
    pass

@pytest.mark.checklist("growth_hub.migrations_applied")
def test_deselected_migrations(gate_target):
    pass
"""


def _stable(data: dict[str, Any]) -> dict[str, Any]:
    """The gate file without what differs between runs: times, run id, args, sign-off time."""
    stable = {
        k: v
        for k, v in data.items()
        if k not in ("run_id", "started_at", "finished_at", "pytest_args")
    }
    for checklist in stable["checklists"]:
        for item in checklist["items"]:
            if item["status"] == "manual_signed":
                item["reason"] = item["reason"].split(" at ")[0]
    return stable


@pytest.mark.slow
def test_xdist_gate_file_equals_single_process(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    args = ("--env", "local", "--gate", "full", "-k", "not deselected")
    args += ("--signoff", "growth_hub.analytics=erin", "--signoff-note", "events checked")
    single = project.runpytest(*args)
    single.assert_outcomes(passed=5, skipped=1, failed=1, deselected=1)
    assert single.ret == pytest.ExitCode.TESTS_FAILED
    expected = gate_file(project)

    # One file: --dist load splits its checks between the workers (by file, one runs them all).
    distributed = project.runpytest_subprocess(*args, "-p", "xdist", "-n", "2", "--dist", "load")
    distributed.assert_outcomes(passed=5, skipped=1, failed=1)  # xdist does not count deselected
    assert distributed.ret == pytest.ExitCode.TESTS_FAILED
    distributed.stdout.fnmatch_lines(
        ["GATE local: BLOCK (gate full: 1 passed, 1 failed, * not verified, 1 manual signed, *"]
    )
    got = gate_file(project)
    assert _stable(got) == _stable(expected)
    assert got["run_id"] != expected["run_id"]
    assert got["verdict"] == "block"
    assert "growth_hub.migrations_applied" in str(got)


@pytest.mark.slow
def test_workers_share_the_controllers_run_id(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_run_id(gate_run_id, record_property, n):
            record_property("run_id", gate_run_id)
        """
    )
    result = project.runpytest_subprocess(
        "-p", "xdist", "-n", "2", "--dist", "load", "--junitxml=junit.xml"
    )
    result.assert_outcomes(passed=4)
    xml = (project.path / "junit.xml").read_text(encoding="utf-8")
    ids = set(re.findall(r'name="run_id" value="([^"]+)"', xml))
    assert len(ids) == 1
    (run_id,) = ids
    assert re.fullmatch(r"gr\d{8}t\d{6}-[0-9a-f]{6}", run_id)


@pytest.mark.slow
def test_xdist_against_the_embedded_sandbox(project: pytest.Pytester) -> None:
    if importlib.util.find_spec("promorang_sandbox") is None:
        pytest.skip("promorang_sandbox is not importable yet")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        @pytest.mark.parametrize("n", range(2))
        def test_api(gate_target, gate_api, n):
            response = gate_api.get("/api/health")
            assert response.status_code == 200

        @pytest.mark.checklist("health.frontend")
        def test_frontend(gate_target, gate_http):
            response = gate_http.get(gate_target.frontend_url + "/growth-hub")
            assert response.status_code == 200
        """
    )
    result = project.runpytest_subprocess(
        "--env", "sandbox", "--gate", "health", "-p", "xdist", "-n", "2", "--dist", "load"
    )
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["GATE sandbox: ALLOW (gate health: 2 passed, 0 failed*"])
    data = gate_file(project, "sandbox")
    assert data["verdict"] == "allow"
    assert data["targets"]["api_url"].startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_unknown_checklist_id_under_xdist_is_a_usage_error(project: pytest.Pytester) -> None:
    """The workers collect; the controller still ends with one line and the usage-error code."""
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.nope")
        def test_a():
            pass
        """
    )
    result = project.runpytest_subprocess("--env", "local", "-n", "2")
    assert_usage_error(result, project, "unknown checklist item 'health.nope'")


# Each test appends "<file> <worker>" to workers.txt.
RECORDING_FILE = """
import os, pathlib, pytest

@pytest.mark.checklist("health.api")
@pytest.mark.parametrize("n", range(4))
def test_check(gate_target, n):
    with open(pathlib.Path(__file__).parent / "workers.txt", "a") as out:
        out.write(f"{pathlib.Path(__file__).name} {os.environ['PYTEST_XDIST_WORKER']}\\n")
"""


def _workers_by_file(project: pytest.Pytester) -> dict[str, list[str]]:
    lines = (project.path / "workers.txt").read_text().split("\n")
    seen: dict[str, list[str]] = {}
    for name, worker in (line.split() for line in lines if line):
        seen.setdefault(name, []).append(worker)
    return seen


@pytest.mark.slow
def test_with_n_alone_a_files_checks_share_one_worker(project: pytest.Pytester) -> None:
    # One import of schemathesis, one spec, one browser per file (_xdist.py), not one per worker.
    project.makepyfile(test_one=RECORDING_FILE, test_two=RECORDING_FILE)
    result = project.runpytest_subprocess("--env", "local", "--gate", "health", "-n", "2")
    result.assert_outcomes(passed=8)
    seen = _workers_by_file(project)
    assert sorted(seen) == ["test_one.py", "test_two.py"]
    assert all(len(workers) == 4 and len(set(workers)) == 1 for workers in seen.values()), seen


@pytest.mark.slow
def test_by_file_a_crashing_check_fails_once_and_the_rest_still_run(
    project: pytest.Pytester,
) -> None:
    # xdist's scope schedulers send a crashed worker's whole file again, the crashing check
    # included, to each replacement worker until the restarts run out (_xdist.py).
    # The crash comes first in its file: the file's other checks must still be sent.
    crashing = RECORDING_FILE.replace(
        '@pytest.mark.checklist("health.api")\n@pytest.mark.parametrize',
        '@pytest.mark.checklist("health.api")\ndef test_crash(gate_target):\n    os._exit(3)\n\n'
        '@pytest.mark.checklist("health.api")\n@pytest.mark.parametrize',
    )
    project.makepyfile(test_one=RECORDING_FILE, test_two=crashing)
    result = project.runpytest_subprocess("--env", "local", "--gate", "health", "-n", "2")
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'test_two.py::test_crash*"])
    assert sorted(len(workers) for workers in _workers_by_file(project).values()) == [4, 4]


@pytest.mark.slow
def test_a_dist_mode_asked_for_is_kept(project: pytest.Pytester) -> None:
    project.makepyfile(test_one=RECORDING_FILE)
    result = project.runpytest_subprocess(
        "--env", "local", "--gate", "health", "-n", "2", "--dist", "each"
    )
    result.assert_outcomes(passed=8)  # every check on each of the two workers
    assert sorted(set(_workers_by_file(project)["test_one.py"])) == ["gw0", "gw1"]
