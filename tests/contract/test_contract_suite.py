"""The contract suite against a sandbox, run as a subprocess exactly as CI runs it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ITEMS = {
    "contract.get_health",
    "contract.upload_image",
    "contract.list_content",
    "contract.create_content",
    "contract.get_content",
    "contract.update_content",
    "contract.delete_content",
}


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    output: str
    reports: Path
    elapsed_s: float

    def statuses(self, env: str = "sandbox") -> dict[str, str]:
        gate = json.loads((self.reports / f"gate-{env}.json").read_text())
        return {
            item["id"]: item["status"]
            for checklist in gate["checklists"]
            for item in checklist["items"]
            if item["id"].startswith("contract.")
        }

    def verdict(self, env: str = "sandbox") -> str:
        verdict: str = json.loads((self.reports / f"gate-{env}.json").read_text())["verdict"]
        return verdict


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from promorang_sandbox import start_sandbox

    handle = start_sandbox(ready_timeout_s=60.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def state_file(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "state.json"
    path.write_text(sandbox.state.to_json())
    return path


@pytest.fixture
def run_contract(state_file: Path, tmp_path: Path) -> Any:
    def run(extra: Sequence[str] = (), env: dict[str, str] | None = None) -> SuiteRun:
        reports = tmp_path / "reports"
        command = [
            sys.executable, "-m", "pytest", "contract", "-p", "no:cacheprovider", "-q",
            "--gate-reports", str(reports), f"--alluredir={tmp_path / 'allure'}", *extra,
        ]  # fmt: skip
        if "--env" not in extra:
            command += ["--sandbox-state", str(state_file)]
        started = time.monotonic()
        done = subprocess.run(
            command, cwd=REPO_ROOT, env={**os.environ, **(env or {})},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        return SuiteRun(
            done.returncode, done.stdout + done.stderr, reports, time.monotonic() - started
        )

    return run


@pytest.fixture
def faults(sandbox: Any) -> Iterator[Any]:
    try:
        yield sandbox.set_faults
    finally:
        sandbox.set_faults([])


def test_healthy_sandbox_passes_and_is_allowed(run_contract: Any) -> None:
    run = run_contract()
    assert run.returncode == 0, run.output
    assert "18 passed" in run.output, run.output
    assert run.statuses() == dict.fromkeys(ITEMS, "passed")
    assert run.verdict() == "allow"
    assert run.elapsed_s < 60, f"contract suite took {run.elapsed_s:.1f}s"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        pytest.param(
            "contract_drift",
            {
                "contract.create_content",
                "contract.get_content",
                "contract.update_content",
                "contract.list_content",
            },
            id="contract_drift",
        ),
        pytest.param(
            "bad_input_500",
            {"contract.upload_image", "contract.create_content"},
            id="bad_input_500",
        ),
        pytest.param("mint_skipped", set(), id="mint_skipped"),
        pytest.param("frontend_wrong_api", set(), id="frontend_wrong_api"),
    ],
)
def test_fault_fails_exactly_its_items(
    run_contract: Any, faults: Any, fault: str, failing: set[str]
) -> None:
    faults([fault])
    run = run_contract()
    statuses = run.statuses()
    assert {i for i, s in statuses.items() if s == "failed"} == failing, run.output
    assert {i for i, s in statuses.items() if s == "passed"} == ITEMS - failing, run.output
    assert run.verdict() == ("block" if failing else "allow")
    if failing:
        assert "ContractViolation" in run.output


def test_read_only_env_sends_only_documented_reads(run_contract: Any, sandbox: Any) -> None:
    state = sandbox.state
    env = {
        "GATE_PROD_API_URL": state.api_url,
        "GATE_PROD_FRONTEND_URL": state.frontend_url,
        "GATE_PROD_SUPABASE_URL": state.supabase_url,
        "GATE_PROD_SERVICE_ROLE_KEY": state.service_role_key,
    }
    sandbox.clear_requests()
    run = run_contract(["--env", "prod"], env=env)
    sent = [r for r in sandbox.requests() if r["service"] == "api"]
    sys.path.insert(0, str(REPO_ROOT / "contract"))
    try:
        spec = importlib.import_module("_contract_spec")
    finally:
        sys.path.pop(0)
    documented = spec.DocumentedPaths(spec.OPERATION_ITEMS)
    assert sent, run.output
    offending = [r for r in sent if not documented.allows(r["method"], r["path"])]
    assert {r["method"] for r in sent} <= {"GET", "HEAD"}, sent
    assert offending == []
    statuses = run.statuses("prod")
    assert statuses["contract.get_health"] == statuses["contract.list_content"] == "passed"
    assert {i for i, s in statuses.items() if s == "not_verified"} == ITEMS - {
        "contract.get_health",
        "contract.list_content",
    }
    assert "writes not allowed on prod" in run.output


def test_collection_does_not_import_schemathesis(state_file: Path) -> None:
    probe = (
        "import sys, pytest\n"
        "rc = pytest.main(sys.argv[1:])\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('schemathesis', 'hypothesis'))\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n"
    )
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "create_flow", "smoke"]
    args += ["contract", "--sandbox-state", str(state_file)]
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_contract.py::test_operation_conforms" in done.stdout
    assert "HEAVY []" in done.stdout, done.stdout
