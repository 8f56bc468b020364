"""The verdict: pure rules, then whole runs of a suite under test (outcomes, output, gate file)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from engine_helpers import LOCAL_SECRET, assert_usage_error, gate_file, item_status

from promorang_gate.decision.checklists import Catalog, Checklist, ChecklistItem, SignOff
from promorang_gate.decision.verdict import (
    NEVER_RAN,
    EnvVerdict,
    Judging,
    OutcomeCollector,
    PhaseReport,
    TestOutcome,
    compute_verdict,
)

# -- pure -------------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
JUDGING = Judging(now=NOW, signoff_max_age_s=7 * 86400, rerun="pytest --gate g")


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
    check = nodeid.replace(f"[{env}]", "")
    return TestOutcome(nodeid, env, tuple(ids.split()), outcome, reason, check=check)  # type: ignore[arg-type]


def _judge(
    outcomes: list[TestOutcome],
    signoffs: dict[str, SignOff] | None = None,
    required: tuple[str, ...] = ("c.a", "c.b", "c.m"),
    catalog: Catalog | None = None,
    judging: Judging = JUDGING,
) -> EnvVerdict:
    return compute_verdict(
        "e",
        catalog or _catalog(),
        outcomes,
        signoffs or {},
        gate="g",
        required=required,
        judging=judging,
    )


def _statuses(verdict: EnvVerdict) -> dict[str, tuple[str, str | None]]:
    return {i.id: (i.status, i.reason) for i in verdict.items}


def test_all_passed_and_signed_is_allow() -> None:
    signoff = SignOff("c.m", "alice", "2026-11-25T00:00:00Z", "e", "checked")
    verdict = _judge(
        [_outcome("t::a", "c.a", "passed"), _outcome("t::b", "c.b", "passed")], {"c.m": signoff}
    )
    assert verdict.verdict == "allow"
    assert verdict.gate == "g"
    assert [c.id for c in verdict.checklists] == ["c"]  # "o" is not required
    assert _statuses(verdict)["c.m"] == (
        "manual_signed",
        "signed by alice at 2026-11-25T00:00:00Z: checked",
    )


def test_statuses_and_block() -> None:
    verdict = _judge(
        [
            _outcome("t::a1", "c.a", "passed"),
            _outcome("t::a2", "c.a", "failed", "assert 1 == 2"),
            _outcome("t::b", "c.b", "skipped", "no frontend"),
        ]
    )
    assert verdict.verdict == "block"
    assert _statuses(verdict) == {
        "c.a": ("failed", "assert 1 == 2"),
        "c.b": ("not_verified", "no frontend"),
        "c.m": (
            "manual_missing",
            "no sign-off: promorang-gate signoff c.m --by NAME",
        ),
    }
    assert verdict.counts == {
        "passed": 0,
        "failed": 1,
        "not_verified": 1,
        "manual_signed": 0,
        "manual_missing": 1,
    }
    assert [b.id for b in verdict.blockers] == ["c.a", "c.b", "c.m"]


def test_item_without_test_and_deselected_test_are_not_verified() -> None:
    verdict = _judge(
        [_outcome("t::a", "c.a", "passed"), _outcome("t::b", "c.b", "deselected", "deselected")],
        {"c.m": SignOff("c.m", "bob", "2026-11-26T00:00:00Z", "e")},
        required=("c.a", "c.b", "c.m", "o.x"),
    )
    statuses = _statuses(verdict)
    assert statuses["c.b"] == ("not_verified", "t::b was deselected; run: pytest --gate g")
    assert statuses["o.x"] == (
        "not_verified",
        "no test verifies it in this run; run the whole gate: pytest --gate g",
    )
    assert verdict.verdict == "block"


def test_items_outside_the_gate_never_decide_it() -> None:
    outcomes = [_outcome("t::a", "c.a", "passed"), _outcome("t::x", "o.x", "failed", "boom")]
    verdict = _judge(outcomes, required=("c.a",))
    assert verdict.verdict == "allow"
    assert [(i.id, i.status) for i in verdict.out_of_scope] == [("o.x", "failed")]


def test_a_declared_check_that_never_ran_leaves_its_item_not_verified() -> None:
    items = (ChecklistItem("c.a", "A.", "c", checks=("t.py::test_one", "t.py::test_two")),)
    catalog = Catalog((Checklist("c", "C", "", "", items, Path("c.yaml")),), Path("."))
    only_one = [_outcome("t.py::test_one[e]", "c.a", "passed")]
    verdict = _judge(only_one, required=("c.a",), catalog=catalog)
    assert _statuses(verdict)["c.a"] == (
        "not_verified",
        "t.py::test_two never ran (not run); run the whole gate: pytest --gate g",
    )
    early = dataclasses.replace(JUDGING, stopped_early=True)
    verdict = _judge(only_one, required=("c.a",), catalog=catalog, judging=early)
    assert "never ran (the run stopped early (-x/--maxfail))" in str(_statuses(verdict)["c.a"][1])
    both = [*only_one, _outcome("t.py::test_two[e]", "c.a", "passed")]
    assert _judge(both, required=("c.a",), catalog=catalog).verdict == "allow"


def test_a_declared_function_covers_each_of_its_parameters() -> None:
    items = (ChecklistItem("c.a", "A.", "c", checks=("t.py::test_op",)),)
    catalog = Catalog((Checklist("c", "C", "", "", items, Path("c.yaml")),), Path("."))
    outcomes = [
        _outcome("t.py::test_op[e-GET]", "c.a", "passed"),
        _outcome("t.py::test_op[e-POST]", "c.a", "failed", "500"),
    ]
    outcomes = [
        TestOutcome(
            o.nodeid, o.env, o.item_ids, o.outcome, o.reason, check=o.nodeid.replace("e-", "")
        )
        for o in outcomes
    ]
    assert _statuses(_judge(outcomes, required=("c.a",), catalog=catalog))["c.a"] == (
        "failed",
        "500",
    )


def test_expired_signoff_is_missing_and_standing_one_holds() -> None:
    old = SignOff("c.m", "bob", "2026-11-01T00:00:00Z", "e")
    verdict = _judge([], {"c.m": old}, required=("c.m",))
    status, reason = _statuses(verdict)["c.m"]
    assert status == "manual_missing"
    assert reason is not None
    assert reason.startswith("sign-off expired (signed by bob at 2026-11-01T00:00:00Z)")
    standing = SignOff("c.m", "bob", "2026-01-01T00:00:00Z", "e", standing=True)
    assert _judge([], {"c.m": standing}, required=("c.m",)).verdict == "allow"


def test_signoff_stands_in_for_an_unverified_signable_item_never_for_a_failed_one() -> None:
    items = (ChecklistItem("c.s", "Docs.", "c", checks=("t.py::test_docs",), signable=True),)
    catalog = Catalog((Checklist("c", "C", "", "", items, Path("c.yaml")),), Path("."))
    signed = {"c.s": SignOff("c.s", "erin", "2026-11-26T00:00:00Z", "e", "kept in the wiki")}
    unverified = [_outcome("t.py::test_docs[e]", "c.s", "skipped", "no --app-repo")]
    verdict = _judge(unverified, signed, required=("c.s",), catalog=catalog)
    status, reason = _statuses(verdict)["c.s"]
    assert status == "manual_signed"
    assert reason is not None
    assert reason.endswith("(in place of: no --app-repo)")
    failed = [_outcome("t.py::test_docs[e]", "c.s", "failed", "no rollback section")]
    verdict = _judge(failed, signed, required=("c.s",), catalog=catalog)
    assert _statuses(verdict)["c.s"] == ("failed", "no rollback section")
    # Narrowed away or never run, it is not the check declining: the sign-off does not stand in.
    never_ran = _outcome("t.py::test_docs[e]", "c.s", "skipped", NEVER_RAN)
    deselected = _outcome("t.py::test_docs[e]", "c.s", "deselected", "deselected")
    for narrowed in ([], [deselected], [never_ran]):
        verdict = _judge(narrowed, signed, required=("c.s",), catalog=catalog)
        assert _statuses(verdict)["c.s"][0] == "not_verified"


def test_env_independent_tests_count_for_every_env_others_only_for_theirs() -> None:
    outcomes = [
        _outcome("t::x", "o.x", "passed", env=""),
        _outcome("t::a[f]", "c.a", "failed", "boom", env="f"),
    ]
    e = compute_verdict("e", _catalog(), outcomes, {}, gate="g", required=("o.x",), judging=JUDGING)
    f = compute_verdict(
        "f", _catalog(), outcomes, {}, gate="g", required=("c.a", "o.x"), judging=JUDGING
    )
    assert e.verdict == "allow"
    assert f.verdict == "block"


def test_non_gating_item_does_not_block() -> None:
    items = (ChecklistItem("g.a", "A.", "g"), ChecklistItem("g.b", "B.", "g", gating=False))
    catalog = Catalog((Checklist("g", "G", "", "", items, Path("g.yaml")),), Path("."))
    verdict = _judge(
        [_outcome("t::a", "g.a", "passed"), _outcome("t::b", "g.b", "failed")],
        required=("g.a", "g.b"),
        catalog=catalog,
    )
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


def test_a_collected_check_that_never_reports_back_leaves_its_item_unverified() -> None:
    """Whatever stopped it (-x, a lost worker, a plugin dropping it), a sibling check's pass
    must not carry an item whose other check never ran."""
    props = [("gate_checklist", "c.a"), ("gate_env", "e")]
    collector = OutcomeCollector()
    collector.collect("t::one[e]", "e", ["c.a"], "t::one")
    collector.collect("t::two[e]", "e", ["c.a"], "t::two")
    collector.add(PhaseReport("t::one[e]", "call", "passed", user_properties=props))
    outcomes = {o.nodeid: o for o in collector.outcomes()}
    assert (outcomes["t::two[e]"].outcome, outcomes["t::two[e]"].reason) == ("skipped", NEVER_RAN)
    verdict = _judge(list(outcomes.values()), required=("c.a",))
    status, reason = _statuses(verdict)["c.a"]
    assert status == "not_verified"
    assert reason == "t::two never ran (not run); run the whole gate: pytest --gate g"


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
    result = project.runpytest(
        "--env",
        "local",
        "--gate",
        "suite",
        "--signoff",
        "slo.storage_quota=carol",
        "--signoff-note",
        "quota alert set",
    )
    result.assert_outcomes(passed=1, skipped=1, failed=1, errors=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= promorang-gate =*",
            "env*checklist*item*status",
            "local*health*health.api*passed",
            "local*health*health.frontend*not verified: frontend not deployed",
            "local*monitoring*slo.upload_latency_p95*failed: p95 2.0s over budget",
            "local*monitoring*slo.upload_failure_rate*failed: error in setup: RuntimeError: *",
            "local*monitoring*slo.storage_quota*manual signed",
            "GATE local: BLOCK (gate suite: 1 passed, 2 failed, 8 not verified, 1 manual signed,"
            " 0 manual missing)",
        ]
    )
    data = gate_file(project)
    assert data["verdict"] == "block"
    assert data["environment"] == "local"
    assert data["gate"]["name"] == "suite"
    assert data["gate"]["picked_by"] == "--gate"
    assert (
        "create_flow.bucket_exists declares no checks: its verdict follows the selection"
        in (data["flags"])
    )
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
    assert statuses["create_flow.bucket_exists"] == (
        "not_verified",
        "no test verifies it in this run; run the whole gate: pytest --env local --gate suite",
    )
    latency = next(
        i for c in data["checklists"] for i in c["items"] if i["id"] == "slo.upload_latency_p95"
    )
    assert latency["reason"] == "p95 2.0s over budget"
    assert "assert 2.0 < 1.5" in latency["detail"]
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
    result.stdout.fnmatch_lines(
        ["GATE local: ALLOW (gate health: 2 passed, 0 failed, 0 not verified, *)"]
    )
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
    result.stdout.fnmatch_lines(
        ["GATE local: BLOCK (gate health: 0 passed, 0 failed, 2 not verified, *)"]
    )
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
    rerun = "run: pytest --env local --gate health"
    other = "test_deselected_test_leaves_item_not_verified.py::test_other"
    assert statuses["health.api"] == ("not_verified", f"{other} was deselected; {rerun}")
    assert statuses["health.frontend"] == ("not_verified", f"{other} was deselected; {rerun}")


def test_manual_items_signed_by_file_and_missing(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("growth_hub.migrations_applied")
        def test_migrations(gate_target):
            pass
        """
    )
    signed_at = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (project.path / "checklists" / "signoffs" / "local.yaml").write_text(
        f"- item: growth_hub.frontend_copy\n  by: dana\n  at: {signed_at}\n  env: local\n"
        "  note: reviewed in PR 12\n",
        encoding="utf-8",
    )
    result = project.runpytest("--env", "local", "--gate", "growth_hub")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    statuses = item_status(gate_file(project))
    assert statuses["growth_hub.migrations_applied"] == ("passed", None)
    assert statuses["growth_hub.frontend_copy"] == (
        "manual_signed",
        f"signed by dana at {signed_at}: reviewed in PR 12",
    )
    command = "promorang-gate signoff growth_hub.analytics --env local --by NAME"
    assert statuses["growth_hub.analytics"] == ("manual_missing", f"no sign-off: {command}")
    result.stdout.fnmatch_lines(["local*growth_hub*growth_hub.analytics*manual missing*"])
    md = (project.path / "reports" / "checklist-local.md").read_text(encoding="utf-8")
    line = f"- [ ] Analytics events instrumented. — **manual missing**: no sign-off: {command}"
    assert line in md


def test_a_check_that_never_touches_the_target_cannot_claim_an_item(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "health.frontend")
        def test_static():
            pass
        """
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "never touches the target (no gate_target")


def test_a_run_without_checklist_tests_blocks(project: pytest.Pytester) -> None:
    project.makepyfile("def test_plain():\n    pass\n")
    result = project.runpytest("--env", "local")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert gate_file(project)["verdict"] == "block"


def test_without_checklists_nothing_is_judged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert "promorang-gate =" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


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


def test_a_run_touches_only_its_own_environments_files(project: pytest.Pytester) -> None:
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
        ".gate-runs-local.jsonl",  # the record of runs the janitor reads (run_history.py)
        "checklist-local.md",
        "checklist-prod.md",
        "gate-local.json",
        "gate-prod.json",
        "junit-local.xml",
        "keep.txt",
    ]
    assert (reports / "gate-prod.json").read_text(encoding="utf-8") == '{"verdict": "allow"}'


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
