"""The README's recipes: the staging recipe, run line by line as written (with the sandbox
standing in for staging), allows; the engineer's recipes, each fenced block run verbatim by bash
in a checkout with its `.venv`, reach ALLOW and the documented BLOCK; and the production gate
allows a healthy deployment without one write."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from project_helpers import ENDPOINTS, env_at_sandbox

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _recipe() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- staging-recipe.*?```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its staging recipe"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _block(name: str) -> str:
    """The fenced block under ``<!-- recipe: NAME``, as written."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- recipe: {name}\b.*?```bash\n(.*?)```", text, re.S)
    assert block, f"README.md lost its recipe {name}"
    return block.group(1)


def _run_block(name: str, work: Path) -> subprocess.CompletedProcess[str]:
    """The block run by bash as one script from the checkout's root, stopping at a failing
    line; no GATE_ variable of the test's own environment leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_", "PROMORANG_"))}
    return subprocess.run(
        ["bash", "-e", "-c", _block(name)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _sandbox_values(state: Any) -> dict[str, str]:
    everything = ("CREATOR_TOKEN", "OTHER_USER_TOKEN", "DATABASE_URL", "APP_REPO")
    return env_at_sandbox(state, "staging", *ENDPOINTS, *everything)


def _checkout(tmp_path: Path) -> Path:
    """The suite as a team checks it out (no reports, sign-offs of its own)."""
    work = tmp_path / "gate"
    for name in ("checklists", "smoke", "contract"):
        shutil.copytree(REPO_ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(REPO_ROOT / name, work / name)
    (work / "reports").mkdir()
    # The virtualenv the README's first command makes: this interpreter's.
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return work


def test_the_staging_recipe_allows_a_healthy_staging(sandbox: Any, tmp_path: Path) -> None:
    sandbox.set_faults([])
    values = _sandbox_values(sandbox.state)
    work = _checkout(tmp_path)
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_", "PROMORANG_"))}
    env.update(PATH=f"{bindir}:{env['PATH']}", RELEASE_MANAGER="release-bot")
    for line in _recipe():
        exported = re.match(r"export (GATE_\w+)=", line)
        if exported:
            assert exported.group(1) in values, f"the test does not know {exported.group(1)}"
            env[exported.group(1)] = values[exported.group(1)]  # the sandbox stands in
            continue
        proc = subprocess.run(
            ["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    gate = (work / "reports" / "gate-staging.json").read_text(encoding="utf-8")
    assert '"verdict": "allow"' in gate
    assert '"name": "promotion"' in gate


def test_the_engineer_recipe_allows_a_sandbox_started_by_hand(tmp_path: Path) -> None:
    work = _checkout(tmp_path)
    proc = _run_block("engineer-allow", work)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "CONFIG staging: ok (" in output
    assert "create_flow.share_positions       passed" in output  # the sandbox's repository
    verdict = [line for line in output.splitlines() if line.startswith("GATE staging: ")]
    assert len(verdict) == 2, output[-4000:]  # the run's, then `verdict`'s
    assert all(line.startswith("GATE staging: ALLOW (gate create_flow: ") for line in verdict)
    state_file = work / "reports" / "sandbox-state.json"
    deadline = time.monotonic() + 30
    while state_file.exists() and time.monotonic() < deadline:  # `kill %1` stops the sandbox
        time.sleep(0.2)
    assert not state_file.exists()


def test_the_engineer_recipe_blocks_the_documented_fault(tmp_path: Path) -> None:
    work = _checkout(tmp_path)
    proc = _run_block("engineer-block", work)
    assert proc.returncode == 1, (proc.stdout + proc.stderr)[-6000:]
    assert "GATE sandbox: BLOCK (gate create_flow: " in proc.stdout
    gate = (work / "reports" / "gate-sandbox.json").read_text(encoding="utf-8")
    failed = {item["id"] for item in _items(gate) if item["status"] == "failed"}
    assert failed == {"create_flow.upload_image", "slo.upload_failure_rate"}


def _items(gate_text: str) -> list[dict[str, Any]]:
    import json

    data = json.loads(gate_text)
    return [item for checklist in data["checklists"] for item in checklist["items"]]


@pytest.mark.usefixtures("listed_content")
def test_prod_post_deploy_allows_without_one_write(sandbox: Any, run_gate: Any) -> None:
    sandbox.set_faults([])
    state = sandbox.state
    sandbox.clear_requests()
    env = env_at_sandbox(state, "prod", *ENDPOINTS, "DATABASE_URL", "CREATOR_TOKEN")
    run = run_gate(["--env", "prod"], env=env)
    writes = [r for r in sandbox.requests() if r["method"] in WRITE_METHODS]
    assert writes == [], f"writes reached a read-only environment: {writes}"
    assert run.returncode == 0, run.output
    data = run.gate("prod")
    assert (data["gate"]["name"], data["verdict"]) == ("post_deploy", "allow")
    refused = run_gate(["--env", "prod", "--gate", "promotion"], env=env)
    assert refused.returncode == 4
    assert "requires items that can only be verified by writing" in refused.output
