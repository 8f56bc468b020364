"""The README's staging recipe, run line by line as written (with the sandbox standing in for
staging), allows; and the production gate allows a healthy deployment without one write."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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
