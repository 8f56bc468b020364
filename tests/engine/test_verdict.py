"""The verdict: pure rules, then whole runs of a suite under test (outcomes, output, gate file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import LOCAL_SECRET, gate_file, item_status

from promorang_gate.checklists import Catalog, Checklist, ChecklistItem, SignOff
from promorang_gate.verdict import OutcomeCollector, PhaseReport, TestOutcome, compute_verdict

# -- pure -------------------------------------------------------------------------------------


def _catalog() -> Catalog:
    items = (
        ChecklistItem("c.a", "A works.", "c"),
        ChecklistItem("c.b", "B works.", "c"),
        ChecklistItem("c.m", "Manual thing.", "c", manual=True),
    )
    other = (ChecklistItem("o.x", "X.", "o"),)
    return Catalog(
        (
            Checklist("c", "C list", "", "", items, Path("c.yaml")),
            Checklist("o", "O list", "", "", other, Path("o.yaml")),
        ),
        Path("checklists"),
    )


def _outcome(
    nodeid: str, ids: str, outcome: str, reason: str | None = None, env: str = "e"
) -> TestOutcome:
    return TestOutcome(nodeid, env, tuple(ids.split()), outcome, reason)  # type: ignore[arg-type]


def test_all_passed_and_signed_is_allow() -> None:
    signoff = SignOff("c.m", "alice", "2026-11-25T00:00:00Z", "e", "checked")
    verdict = compute_verdict(
        "e",
        _catalog(),
        [_outcome("t::a", "c.a", "passed"), _outcome("t::b", "c.b", "passed")],
        {"c.m": signoff},
    )
    assert verdict is not None
    assert verdict.verdict == "allow"
    assert [c.id for c in verdict.checklists] == ["c"]  # "o" is not in scope
    statuses = {i.id: (i.status, i.reason) for i in verdict.checklists[0].items}
    assert statuses["c.m"] == ("manual_signed", "signed by alice at 2026-11-25T00:00:00Z: checked")


def test_statuses_and_block() -> None:
    verdict = compute_verdict(
        "e",
        _catalog(),
        [
            _outcome("t::a1", "c.a", "passed"),
            _outcome("t::a2", "c.a", "failed", "assert 1 == 2"),
            _outcome("t::b", "c.b", "skipped", "no frontend"),
        ],
        {},
    )
    assert verdict is not None
    assert verdict.verdict == "block"
    statuses = {i.id: (i.status, i.reason) for i in verdict.checklists[0].items}
    assert statuses == {
        "c.a": ("failed", "assert 1 == 2"),
        "c.b": ("not_verified", "no frontend"),
        "c.m": ("manual_missing", "no sign-off"),
    }
    assert verdict.counts == {
        "passed": 0,
        "failed": 1,
        "not_verified": 1,
        "manual_signed": 0,
        "manual_missing": 1,
    }


def test_item_without_test_and_deselected_test_are_not_verified() -> None:
    verdict = compute_verdict(
        "e",
        _catalog(),
        [_outcome("t::a", "c.a", "passed"), _outcome("t::b", "c.b", "deselected", "deselected")],
        {"c.m": SignOff("c.m", "bob", "2026", "e")},
    )
    assert verdict is not None
    items = {i.id: (i.status, i.reason) for i in verdict.checklists[0].items}
    assert items["c.b"] == ("not_verified", "deselected")
    assert verdict.verdict == "block"


def test_deselected_alone_brings_no_checklist_in_scope() -> None:
    outcomes = [_outcome("t::x", "o.x", "deselected", "deselected")]
    assert compute_verdict("e", _catalog(), outcomes, {}) is None


def test_env_independent_tests_count_for_every_env_others_only_for_theirs() -> None:
    outcomes = [
        _outcome("t::x", "o.x", "passed", env=""),
        _outcome("t::a[f]", "c.a", "failed", "boom", env="f"),
    ]
    e = compute_verdict("e", _catalog(), outcomes, {})
    f = compute_verdict("f", _catalog(), outcomes, {})
    assert e is not None
    assert f is not None
    assert [c.id for c in e.checklists] == ["o"]
    assert e.verdict == "allow"
    assert [c.id for c in f.checklists] == ["c", "o"]
    assert f.verdict == "block"


def test_non_gating_item_does_not_block() -> None:
    items = (ChecklistItem("g.a", "A.", "g"), ChecklistItem("g.b", "B.", "g", gating=False))
    catalog = Catalog((Checklist("g", "G", "", "", items, Path("g.yaml")),), Path("."))
    verdict = compute_verdict(
        "e", catalog, [_outcome("t::a", "g.a", "passed"), _outcome("t::b", "g.b", "failed")], {}
    )
    assert verdict is not None
    assert verdict.verdict == "allow"


def test_collector_merges_phases() -> None:
    props = [("gate_checklist", "c.a c.b"), ("gate_env", "e")]
    collector = OutcomeCollector()
    collector.add(PhaseReport("t::ok", "setup", "passed", user_properties=props))
    collector.add(PhaseReport("t::ok", "call", "passed", user_properties=props))
    metric = ("gate_metric", '{"name": "p95_s", "value": 0.25}')
    collector.add(PhaseReport("t::ok", "teardown", "passed", user_properties=[*props, metric]))
    collector.add(PhaseReport("t::td", "call", "passed", user_properties=props))
    collector.add(PhaseReport("t::td", "teardown", "failed", "RuntimeError: leak", None, props))
    collector.add(PhaseReport("t::xf", "call", "skipped", None, "known bug", props))
    collector.add(PhaseReport("t::none", "call", "passed"))  # no checklist: ignored
    outcomes = {o.nodeid: o for o in collector.outcomes()}
    assert set(outcomes) == {"t::ok", "t::td", "t::xf"}
    assert outcomes["t::ok"].outcome == "passed"
    assert outcomes["t::ok"].metrics == {"p95_s": 0.25}
    assert outcomes["t::ok"].item_ids == ("c.a", "c.b")
    assert (outcomes["t::td"].outcome, outcomes["t::td"].reason) == (
        "failed",
        "error in teardown: RuntimeError: leak",
    )
    assert (outcomes["t::xf"].outcome, outcomes["t::xf"].reason) == ("skipped", "xfail: known bug")


def test_reason_is_one_line_and_bounded() -> None:
    collector = OutcomeCollector()
    props = [("gate_checklist", "c.a"), ("gate_env", "e")]
    collector.add(PhaseReport("t::a", "call", "failed", "x" * 500 + "\nsecond", None, props))
    (outcome,) = collector.outcomes()
    assert outcome.reason is not None
    assert len(outcome.reason) == 300
    assert "\n" not in outcome.reason


# -- whole runs --------------------------------------------------------------------------------

SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

@pytest.mark.checklist("health.api")
def test_api(gate_target, gate_metrics):
    gate_metrics.record("latency_s", 0.12)
    assert gate_target.api_url == "http://localhost:3001"

@pytest.mark.checklist("health.frontend")
def test_frontend(gate_target):
    pytest.skip("frontend not deployed")

@pytest.mark.checklist("slo.upload_latency_p95")
def test_latency(gate_target):
    assert 2.0 < 1.5, "p95 2.0s over budget"

@pytest.mark.checklist("slo.upload_failure_rate")
def test_failure_rate(gate_target, broken):
    pass

@pytest.mark.checklist("create_flow.upload_image")
@pytest.mark.xfail(reason="known upload bug", strict=False)
def test_upload(gate_target):
    assert False
"""


def test_each_status_in_one_run(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local", "--signoff", "slo.storage_quota=carol")
    result.assert_outcomes(passed=1, skipped=1, failed=1, errors=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= promorang-gate =*",
            "env*checklist*item*status",
            "local*health*health.api*passed",
            "local*health*health.frontend*not verified: frontend not deployed",
            "local*monitoring*slo.upload_latency_p95*failed: AssertionError: p95 2.0s over budget*",
            "local*monitoring*slo.upload_failure_rate*failed: error in setup: RuntimeError: *",
            "local*monitoring*slo.storage_quota*manual signed",
            "GATE local: BLOCK (1 passed, 2 failed, 7 not verified, 1 manual signed,"
            " 0 manual missing)",
        ]
    )
    data = gate_file(project)
    assert data["verdict"] == "block"
    assert data["environment"] == "local"
    assert data["targets"] == {
        "api_url": "http://localhost:3001",
        "frontend_url": "http://localhost:5173",
        "supabase_url": "http://127.0.0.1:54321",
    }
    assert [c["id"] for c in data["checklists"]] == ["create_flow", "health", "monitoring"]
    statuses = item_status(data)
    assert statuses["health.api"] == ("passed", None)
    assert statuses["health.frontend"] == ("not_verified", "frontend not deployed")
    assert statuses["slo.upload_latency_p95"][0] == "failed"
    assert statuses["slo.upload_failure_rate"] == (
        "failed",
        "error in setup: RuntimeError: fixture broke",
    )
    assert statuses["create_flow.upload_image"] == ("not_verified", "xfail: known upload bug")
    assert statuses["create_flow.bucket_exists"] == ("not_verified", "no test selected")
    assert statuses["slo.storage_quota"][0] == "manual_signed"
    assert statuses["slo.storage_quota"][1].startswith("signed by carol at ")
    api = data["checklists"][1]["items"][0]
    assert api["tests"] == ["test_each_status_in_one_run.py::test_api[local]"]
    assert api["metrics"] == {"latency_s": 0.12}
    md = (project.path / "reports" / "checklist-local.md").read_text(encoding="utf-8")
    assert "### Health" in md
    assert "- [x] Backend: `/api/health` — passed" in md
    assert "- [ ] Frontend: `/growth-hub` — **not verified**: frontend not deployed" in md
    assert "verdict **BLOCK**" in md


def test_all_passed_is_allow_and_exit_zero(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            assert gate_target.name == "local"
        """
    )
    result = project.runpytest("--env", "local")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["GATE local: ALLOW (2 passed, 0 failed, 0 not verified, *)"])
    data = gate_file(project)
    assert data["verdict"] == "allow"
    assert data["run_id"].startswith("gr")
    assert data["pytest_args"][:2] == ["--env", "local"]


def test_only_test_skipped_blocks(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            pytest.skip("cannot reach")
        """
    )
    result = project.runpytest("--env", "local")
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["GATE local: BLOCK (0 passed, 0 failed, 2 not verified, *)"])
    data = gate_file(project)
    assert data["verdict"] == "block"
    assert item_status(data)["health.api"] == ("not_verified", "cannot reach")


def test_deselected_test_leaves_item_not_verified(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        def test_api(gate_target):
            pass

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_other(gate_target):
            pass
        """
    )
    result = project.runpytest("--env", "local", "-k", "test_api")
    result.assert_outcomes(passed=1, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    statuses = item_status(gate_file(project))
    assert statuses["health.api"] == ("not_verified", "deselected")
    assert statuses["health.frontend"] == ("not_verified", "deselected")


def test_manual_items_signed_by_file_and_missing(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("growth_hub.migrations_applied")
        def test_migrations():
            pass
        """
    )
    (project.path / "checklists" / "signoffs" / "local.yaml").write_text(
        "- item: growth_hub.frontend_copy\n  by: dana\n  at: 2026-11-20T10:00:00Z\n  env: local\n"
        "  note: reviewed in PR 12\n",
        encoding="utf-8",
    )
    result = project.runpytest("--env", "local")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    statuses = item_status(gate_file(project))
    assert statuses["growth_hub.migrations_applied"] == ("passed", None)
    assert statuses["growth_hub.frontend_copy"] == (
        "manual_signed",
        "signed by dana at 2026-11-20T10:00:00Z: reviewed in PR 12",
    )
    assert statuses["growth_hub.analytics"] == ("manual_missing", "no sign-off")
    result.stdout.fnmatch_lines(["local*growth_hub*growth_hub.analytics*manual missing*"])
    md = (project.path / "reports" / "checklist-local.md").read_text(encoding="utf-8")
    assert "- [ ] Analytics events instrumented. — **manual sign-off missing**" in md


def test_env_independent_test_counts_for_every_env(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-service-role-secret")
    clean_env.setenv("GATE_PROD_SUPABASE_URL", "https://prod.supabase.example.com")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_static():
            pass
        """
    )
    result = project.runpytest("--env", "local,prod")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    for env in ("local", "prod"):
        data = gate_file(project, env)
        assert data["verdict"] == "allow"
        assert item_status(data)["health.api"] == ("passed", None)


def test_no_checklist_in_scope_writes_nothing(project: pytest.Pytester) -> None:
    project.makepyfile("def test_plain():\n    pass\n")
    result = project.runpytest("--env", "local")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "promorang-gate =" not in result.stdout.str()
    assert not (project.path / "reports").exists()


def test_secret_never_reaches_output_or_files(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        def test_leaky(gate_target):
            print("key is", gate_target.service_role_key)
            assert gate_target.service_role_key == "x", "got " + gate_target.service_role_key
        """
    )
    result = project.runpytest("--env", "local", "--junitxml=junit.xml", "-rA")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert LOCAL_SECRET not in output
    assert "[REDACTED]" in output
    for path in [project.path / "junit.xml", *(project.path / "reports").iterdir()]:
        assert LOCAL_SECRET not in path.read_text(encoding="utf-8"), path
    reason = item_status(gate_file(project))["health.api"][1]
    assert reason is not None
    assert "[REDACTED]" in reason


def test_stale_gate_files_are_removed(project: pytest.Pytester) -> None:
    reports = project.path / "reports"
    reports.mkdir()
    (reports / "gate-prod.json").write_text('{"verdict": "allow"}', encoding="utf-8")
    (reports / "checklist-prod.md").write_text("old", encoding="utf-8")
    (reports / "keep.txt").write_text("other", encoding="utf-8")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            pass
        """
    )
    result = project.runpytest("--env", "local")
    assert result.ret == pytest.ExitCode.OK
    assert sorted(p.name for p in reports.iterdir()) == [
        "checklist-local.md",
        "gate-local.json",
        "keep.txt",
    ]


def test_gate_reports_option(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            pass
        """
    )
    result = project.runpytest("--env", "local", "--gate-reports", "out/gate")
    assert result.ret == pytest.ExitCode.OK
    assert (project.path / "out" / "gate" / "gate-local.json").is_file()
    assert not (project.path / "reports").exists()


def test_allure_results_get_environment_and_categories(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_health(gate_target):
            print(gate_target.service_role_key)
        """
    )
    result = project.runpytest("--env", "local", "--alluredir", "allure", "-s")
    assert result.ret == pytest.ExitCode.OK
    allure = project.path / "allure"
    assert (allure / "categories.json").is_file()
    assert "http://localhost:3001" in (allure / "environment.properties").read_text("utf-8")
    for path in allure.iterdir():
        assert LOCAL_SECRET not in path.read_text(encoding="utf-8"), path
