"""What a run leaves for QA, CI and the release manager: the verdict inside the Allure results,
executor.json, readable test results, the CI step summary, JUnit per env and the checklist file
read first."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from engine_helpers import LOCAL_SECRET, assert_usage_error

from promorang_gate.cleanup.leftovers import NOT_REMOVED_HEADING
from promorang_gate.decision.checklists import Catalog, Checklist, ChecklistItem
from promorang_gate.decision.criteria import Criteria
from promorang_gate.decision.verdict import Judging, TestOutcome, compute_verdict
from promorang_gate.reporting.allure_results import GateResults, write_gate_results
from promorang_gate.reporting.checklist_markdown import MarkdownContext, render_markdown
from promorang_gate.reporting.ci_summary import render_step_summary
from promorang_gate.secrets.redaction import Redactor

# Every status in one run of gate `suite` (create_flow, health, monitoring) on env local.
MIXED = f"""
import time
import pytest

@pytest.fixture(scope="module")
def requests_made(gate_target):
    started = time.time()
    for _ in range(200):
        sum(range(2000))
    return started, time.time()

@pytest.mark.checklist("health.api")
def test_api_health_answers(gate_target, requests_made):
    \"\"\"The API answers its health check with its version.

    More words that never reach the title.\"\"\"
    with open("window.json", "w") as out:
        out.write(str(list(requests_made)))

@pytest.mark.checklist("health.frontend")
def test_frontend_boots(gate_target):
    pytest.skip("frontend not deployed")

@pytest.mark.checklist("slo.upload_latency_p95")
def test_latency_within_budget(gate_target):
    assert 2.0 < 1.5, "upload latency p95 2.0s is not below 1.5s (key {LOCAL_SECRET})"
"""


def _allure(alluredir: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(gate results by fullName, the tests' own results)."""
    gate: dict[str, dict[str, Any]] = {}
    tests = []
    for path in alluredir.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("fullName", "").startswith("promorang-gate:"):
            gate[result["fullName"]] = result
        else:
            tests.append(result)
    return gate, tests


def _labels(result: dict[str, Any]) -> dict[str, str]:
    return {label["name"]: label["value"] for label in result["labels"]}


@pytest.fixture
def mixed(project: pytest.Pytester) -> pytest.Pytester:
    project.makepyfile(test_mixed=MIXED)
    return project


def test_each_required_item_and_the_verdict_are_allure_results(
    mixed: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "promorang/gate",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_NUMBER": "17",
    }.items():
        clean_env.setenv(key, value)
    result = mixed.runpytest("--env", "local", "--gate", "suite", "--alluredir", "allure")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    gate, tests = _allure(mixed.path / "allure")
    required = 6 + 2 + 4  # create_flow, health, monitoring
    assert len(gate) == required + 1
    item = {name.rsplit(":", 1)[1]: r for name, r in gate.items()}
    assert item["health.api"]["status"] == "passed"
    assert item["health.frontend"]["status"] == "broken"
    assert item["health.frontend"]["statusDetails"]["message"] == (
        "not verified: frontend not deployed"
    )
    assert item["slo.upload_latency_p95"]["status"] == "failed"
    message = item["slo.upload_latency_p95"]["statusDetails"]["message"]
    assert message.startswith("failed: upload latency p95 2.0s is not below 1.5s")
    assert "assert 2.0 < 1.5" in item["slo.upload_latency_p95"]["statusDetails"]["trace"]
    assert item["slo.storage_quota"]["status"] == "broken"
    assert item["slo.storage_quota"]["statusDetails"]["message"].startswith(
        "manual missing: no sign-off: promorang-gate signoff slo.storage_quota --env local"
    )
    assert item["create_flow.upload_image"]["statusDetails"]["message"].startswith(
        "not verified: no test verifies it in this run"
    )
    expected = {
        "parentSuite": "local",
        "feature": "Health",
        "story": "Backend: `/api/health`",
        "tag": "health.api",
        "severity": "blocker",
    }
    assert _labels(item["health.api"]).items() >= expected.items()
    verdict = item["verdict"]
    assert verdict["name"] == "Gate verdict: local"
    assert verdict["status"] == "failed"
    assert verdict["statusDetails"]["message"].startswith("BLOCK by gate suite: 10 blocker(s): ")
    assert "`slo.upload_latency_p95` (failed): upload latency p95" in verdict["description"]
    assert _labels(verdict)["parentSuite"] == "local"
    assert _labels(verdict)["feature"] == "Gate verdict"  # its own group in the tree
    # Dated before every test of the run, so the tree (sorted by start) lists it first.
    starts = [r["start"] for r in [*tests, *gate.values()] if r is not verdict and "start" in r]
    assert verdict["start"] < min(starts)
    (attachment,) = verdict["attachments"]
    attached = json.loads((mixed.path / "allure" / attachment["source"]).read_text())
    assert attached["verdict"] == "block"
    assert attached["gate"]["name"] == "suite"
    executor = json.loads((mixed.path / "allure" / "executor.json").read_text())
    assert executor["buildUrl"] == "https://github.com/promorang/gate/actions/runs/4242"
    assert executor["buildOrder"] == 17
    assert executor["buildName"].startswith(f"gate run {attached['run_id']}")
    for path in (mixed.path / "allure").iterdir():
        assert LOCAL_SECRET not in path.read_text(encoding="utf-8", errors="replace"), path


def test_item_history_is_stable_and_a_sign_off_passes_with_its_words(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("slo.upload_latency_p95", "slo.upload_failure_rate")
        def test_thresholds(gate_target):
            pass
        """
    )
    args = ("--env", "local", "--gate", "monitoring", "--alluredir", "allure")
    first = project.runpytest(
        *args, "--signoff", "slo.storage_quota=carol", "--signoff-note", "quota alert set"
    )
    assert first.ret == pytest.ExitCode.OK
    gate, _ = _allure(project.path / "allure")
    signed = gate["promorang-gate:local:slo.storage_quota"]
    assert signed["status"] == "passed"
    assert "Sign-off: signed by carol at " in signed["description"]
    assert gate["promorang-gate:local:verdict"]["status"] == "passed"
    assert gate["promorang-gate:local:verdict"]["statusDetails"]["message"].startswith(
        "ALLOW by gate monitoring"
    )
    history = {name: r["historyId"] for name, r in gate.items()}
    assert project.runpytest(*args).ret == pytest.ExitCode.TESTS_FAILED  # no sign-off now
    again, _ = _allure(project.path / "allure")
    assert {name: r["historyId"] for name, r in again.items()} == history


def test_titles_read_like_the_checklist_and_durations_count_the_fixtures(
    mixed: pytest.Pytester,
) -> None:
    mixed.runpytest("--env", "local", "--gate", "suite", "--alluredir", "allure")
    _, tests = _allure(mixed.path / "allure")
    by_name = {r["name"]: r for r in tests}
    assert set(by_name) == {
        "Backend: `/api/health` — The API answers its health check with its version",
        "Frontend: `/growth-hub` — Frontend boots",
        "Upload endpoint latency P95 < 1.5s. — Latency within budget",
    }
    api = by_name["Backend: `/api/health` — The API answers its health check with its version"]
    started, finished = json.loads((mixed.path / "window.json").read_text())
    assert api["start"] <= round(started * 1000)  # the fixture's work is inside the duration
    assert api["stop"] >= round(finished * 1000)


def test_the_ci_step_summary_is_appended(
    mixed: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("## an earlier step\n", encoding="utf-8")
    clean_env.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for key, value in (("SERVER_URL", "https://github.com"), ("REPOSITORY", "p/g")):
        clean_env.setenv(f"GITHUB_{key}", value)
    clean_env.setenv("GITHUB_RUN_ID", "99")
    mixed.runpytest("--env", "local", "--gate", "suite", "--alluredir", "allure")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## an earlier step\n## promorang-gate\n")
    assert "### ⛔ `local`: **BLOCK** (gate `suite`)" in text
    assert "1 passed, 1 failed, 9 not verified, 0 manual signed, 1 manual missing" in text
    assert "| `slo.upload_latency_p95` | failed | upload latency p95 2.0s is not below" in text
    assert "| `slo.storage_quota` | manual missing | no sign-off: promorang-gate signoff" in text
    assert "`reports/gate-local.json`" in text.replace(str(mixed.path) + "/", "")
    assert "render them with `promorang-gate report`" in text
    assert "https://github.com/p/g/actions/runs/99#artifacts" in text
    assert LOCAL_SECRET not in text


def test_no_summary_without_the_variable(mixed: pytest.Pytester, tmp_path: Path) -> None:
    mixed.runpytest("--env", "local", "--gate", "suite")
    assert not list(tmp_path.glob("*.md"))


def _cases(path: Path) -> dict[str, dict[str, str]]:
    root = ElementTree.parse(path).getroot()
    return {
        case.get("name", ""): {
            p.get("name", ""): p.get("value", "") for p in case.iterfind("properties/property")
        }
        for case in root.iter("testcase")
    }


def test_junit_per_env_by_default_with_item_and_env_properties(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("GATE_STAGING_API_URL", "http://127.0.0.1:9")
    clean_env.setenv("GATE_STAGING_FRONTEND_URL", "http://127.0.0.1:9")
    clean_env.setenv("GATE_STAGING_SUPABASE_URL", "http://127.0.0.1:9")
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-secret-0123456789")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            assert gate_target.name == "local"
        """
    )
    result = project.runpytest("--env", "local,staging", "--gate", "health")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reports = project.path / "reports"
    local, staging = _cases(reports / "junit-local.xml"), _cases(reports / "junit-staging.xml")
    assert set(local) == {"test_health[local]", "gate health [local]"}
    assert set(staging) == {"test_health[staging]", "gate health [staging]"}
    assert local["test_health[local]"]["gate_checklist"] == "health.api health.frontend"
    assert local["test_health[local]"]["gate_env"] == "local"
    suite = ElementTree.parse(reports / "junit-staging.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "2")  # the check, the verdict
    result.stdout.fnmatch_lines([f"*generated xml file: {reports / 'junit-local.xml'}, *"])


def test_a_blocked_gate_fails_in_junit_though_no_test_failed(project: pytest.Pytester) -> None:
    """Unverified items fail no test: the verdict's own case does, naming the blockers."""
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            pytest.skip("no creator token")
        """
    )
    assert project.runpytest("--env", "local", "--gate", "health").ret == 1
    root = ElementTree.parse(project.path / "reports" / "junit-local.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")
    failure = suite.find("testcase[@name='gate health [local]']/failure")
    assert failure is not None
    assert failure.get("message", "").startswith("BLOCK: health.api: not_verified: no creator")


def test_junitxml_given_is_kept_and_no_default_is_written(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            pass
        """
    )
    assert project.runpytest("--env", "local", "--junitxml=mine.xml").ret == pytest.ExitCode.OK
    assert _cases(project.path / "mine.xml")["test_health[local]"]["gate_env"] == "local"
    assert not list((project.path / "reports").glob("junit-*"))


def test_a_usage_error_leaves_no_junit(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.apii")
        def test_typo(gate_target):
            pass
        """
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "unknown checklist item 'health.apii'")


def _git_repo(path: Path) -> str:
    path.mkdir()
    (path / "README.md").write_text("release\n", encoding="utf-8")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "release"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return head.stdout.strip()


def test_the_checklist_file_opens_with_what_a_release_manager_needs(
    mixed: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    commit = _git_repo(mixed.path / "app")
    clean_env.setenv("GATE_LOCAL_LATENCY_P95_BUDGET_S", "3")
    mixed.runpytest("--env", "local", "--gate", "suite", "--app-repo", "app")
    text = (mixed.path / "reports" / "checklist-local.md").read_text(encoding="utf-8")
    head, _, runbook = text.partition("## The runbook's checklists")
    assert head.startswith("# Deploy gate: `local` — BLOCK\n")
    assert "verdict **BLOCK**" in head
    assert "Gate `suite` (--gate):" in head
    assert "Required items: 1 passed, 1 failed, 9 not verified, 0 manual signed," in head
    assert "- `slo.upload_latency_p95` — **failed**: upload latency p95 2.0s" in head
    assert "- `slo.storage_quota` — **manual missing**: no sign-off:" in head
    assert "## Criteria in force" in head
    assert "- ⚠ latency_p95_budget_s is 3.0 (env:GATE_LOCAL_LATENCY_P95_BUDGET_S)" in head
    assert "- API: http://localhost:3001" in head
    assert f"- application: commit `{commit}`" in head
    assert "- Checklist Before Launching New Growth Hub Feature (`growth_hub`): not required" in (
        head
    )
    assert "- [x] Backend: `/api/health` — passed" in runbook
    assert LOCAL_SECRET not in text


def test_what_the_run_could_not_remove_is_in_every_report(tmp_path: Path) -> None:
    """The run fails on it whatever the verdict; no report may read as if all were clean."""
    catalog = Catalog(
        (Checklist("c", "C list", "", "", (ChecklistItem("c.a", "A works.", "c"),), Path("c")),),
        Path("checklists"),
    )
    outcome = TestOutcome("t::a", "e", ("c.a",), "passed", None, check="t::a")
    judging = Judging(now=dt.datetime.now(dt.UTC), signoff_max_age_s=60, rerun="pytest")
    verdict = compute_verdict(
        "e", catalog, [outcome], {}, gate="g", required=("c.a",), judging=judging
    )
    assert verdict.verdict == "allow"
    left = {"e": ["storage content-images/gate-gr1/x.png: 403 Forbidden"]}

    context = MarkdownContext("gr1", "2026-11-26T00:00:00Z", None, not_removed=left["e"])
    markdown = render_markdown(verdict, Criteria({}, ()), context)
    summary = render_step_summary(
        [verdict], {}, run_id="gr1", files=[], allure_dir=None, ci_url=None, not_removed=left
    )
    info = GateResults("gr1", None, 0, {}, {}, {}, not_removed=left)
    write_gate_results(tmp_path, [verdict], catalog, info, Redactor(), {})
    (result,) = [
        json.loads(p.read_text())
        for p in tmp_path.glob("*-result.json")
        if "verdict" in json.loads(p.read_text())["fullName"]
    ]
    for text in (markdown, summary, result["description"]):
        assert NOT_REMOVED_HEADING in text
        assert "- storage content-images/gate-gr1/x.png: 403 Forbidden" in text
    # The headings say the run failed: an ALLOW with a green mark would read as a pass.
    assert markdown.splitlines()[0].endswith("ALLOW — RUN FAILED: 1 left on the target")
    assert "No blockers" not in markdown
    assert summary.count("### ⛔ `e`: **ALLOW** (gate `g`) — **RUN FAILED: 1 left on") == 1
    assert "✅" not in summary
    assert result["status"] == "failed"
    assert result["statusDetails"]["message"].endswith(
        "; 1 thing(s) this run created could not be removed"
    )
