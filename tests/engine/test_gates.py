"""Gates as data: which gate judges a run, what it requires, and that no way of narrowing a run
(paths, -x, --lf, a plugin dropping tests, a crashed worker) turns a required item green."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from engine_helpers import assert_usage_error, gate_file, item_status

CHECKLIST = """
id: demo
title: Demo checklist
items:
  - id: demo.two_checks
    text: "Both halves work."
    checks:
      - test_demo.py::test_one
      - test_demo.py::test_two
  - id: demo.read
    text: "Reading works."
    checks:
      - test_demo.py::test_read
  - id: demo.write
    text: "Writing works."
    writes: true
    checks:
      - test_demo.py::test_write
"""
GATES = """
gates:
  demo: {requires: [demo.two_checks, demo.read]}
  reading: {requires: [demo.read]}
  writing: {requires: [demo.write]}
  local_default: {requires: [demo.two_checks, demo.read]}
"""
SUITE = """
import pytest

@pytest.mark.checklist("demo.two_checks")
def test_one(gate_target):
    pass

@pytest.mark.checklist("demo.two_checks")
def test_two(gate_target):
    pass

@pytest.mark.checklist("demo.read")
def test_read(gate_target):
    pass

@pytest.mark.checklist("demo.write")
def test_write(gate_target):
    pass
"""


@pytest.fixture
def demo(project: pytest.Pytester) -> pytest.Pytester:
    """A project with one checklist whose items declare their checks, and the suite for it."""
    checklists = project.path / "checklists"
    shutil.rmtree(checklists)
    checklists.mkdir()
    (checklists / "demo.yaml").write_text(CHECKLIST, encoding="utf-8")
    (checklists / "gates.yaml").write_text(GATES, encoding="utf-8")
    (project.path / "environments" / "local.toml").write_text('gate = "local_default"\n')
    project.makepyfile(test_demo=SUITE)
    return project


def _reason(project: pytest.Pytester, item: str, env: str = "local") -> str:
    status, reason = item_status(gate_file(project, env))[item]
    assert status == "not_verified", (status, reason)
    assert reason is not None
    return reason


def test_the_profile_gate_judges_and_everything_required_passes(demo: pytest.Pytester) -> None:
    # (test_write would make the end-of-run sweep look for leftovers on a local stack that is
    # not up; it is out of this gate's scope anyway.)
    result = demo.runpytest("--env", "local", "-k", "not write")
    assert result.ret == pytest.ExitCode.OK
    data = gate_file(demo)
    assert data["gate"] == {
        "name": "local_default",
        "picked_by": "profile of local",
        "description": "",
        "required": ["demo.two_checks", "demo.read"],
    }
    assert data["verdict"] == "allow"


def test_a_path_narrowed_to_one_check_leaves_the_item_not_verified(demo: pytest.Pytester) -> None:
    result = demo.runpytest("--env", "local", "test_demo.py::test_one")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _reason(demo, "demo.two_checks").startswith("test_demo.py::test_two never ran")
    assert gate_file(demo)["verdict"] == "block"


def test_minus_m_naming_a_gate_picks_it(demo: pytest.Pytester) -> None:
    demo.makeini("[pytest]\naddopts = -p no:cacheprovider\nmarkers =\n    reading: r\n")
    result = demo.runpytest("--env", "local", "-m", "reading")
    data = gate_file(demo)
    assert data["gate"]["name"] == "reading"
    assert data["gate"]["picked_by"] == "-m reading"
    # -m deselected everything (no test carries the marker): the required item is unverified.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "was deselected" in _reason(demo, "demo.read")
    assert [i["id"] for i in data["out_of_scope"]] == []


def test_out_of_scope_items_are_reported_and_never_decide(demo: pytest.Pytester) -> None:
    demo.makepyfile(
        test_demo=SUITE.replace(
            "def test_one(gate_target):\n    pass",
            "def test_one(gate_target):\n    assert False, 'half broken'",
        )
    )
    result = demo.runpytest("--env", "local", "--gate", "reading", "-k", "not write")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # a test failed, though the gate allows
    data = gate_file(demo)
    assert data["verdict"] == "allow"
    assert [(i["id"], i["status"], i["in_scope"]) for i in data["out_of_scope"]] == [
        ("demo.two_checks", "failed", False)
    ]
    result.stdout.fnmatch_lines(["out of scope of gate reading (not deciding): demo.two_checks"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--gate", "nope"], "--gate 'nope': unknown gate; known gates are demo, local_default,"),
        (["--gate", "demo", "-m", "reading"], "--gate demo and -m reading name two gates"),
        (
            ["--env", "prod", "--gate", "writing"],
            "requires items that can only be verified by writing",
        ),
    ],
    ids=["unknown", "two-gates", "read-only"],
)
def test_gate_mistakes_are_usage_errors(
    demo: pytest.Pytester, clean_env: pytest.MonkeyPatch, args: list[str], fragment: str
) -> None:
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-service-role-secret")
    clean_env.setenv("GATE_PROD_SUPABASE_URL", "https://prod.supabase.example.com")
    env = [] if "--env" in args else ["--env", "local"]
    result = demo.runpytest(*env, *args)
    assert_usage_error(result, demo, fragment)


def test_a_read_only_env_may_use_a_gate_without_writes(
    demo: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-service-role-secret")
    clean_env.setenv("GATE_PROD_SUPABASE_URL", "https://prod.supabase.example.com")
    result = demo.runpytest("--env", "prod", "--gate", "reading", "-k", "read")
    assert result.ret == pytest.ExitCode.OK
    assert gate_file(demo, "prod")["verdict"] == "allow"


def test_a_gate_naming_an_unknown_item_is_a_usage_error(demo: pytest.Pytester) -> None:
    (demo.path / "checklists" / "gates.yaml").write_text(
        "gates:\n  demo: {requires: [demo.nope]}\n", encoding="utf-8"
    )
    result = demo.runpytest("--env", "local", "--gate", "demo")
    assert_usage_error(result, demo, "'demo.nope' is neither a checklist nor an item")


def test_a_test_may_claim_only_an_item_that_lists_it(demo: pytest.Pytester) -> None:
    demo.makepyfile(
        test_extra="""
        import pytest

        @pytest.mark.checklist("demo.read")
        def test_sneaky(gate_target):
            pass
        """
    )
    result = demo.runpytest("--env", "local")
    assert_usage_error(result, demo, "add 'test_extra.py::test_sneaky' under 'checks:' of demo")


@pytest.mark.slow
def test_stop_after_first_failure_says_which_checks_never_ran(demo: pytest.Pytester) -> None:
    demo.makepyfile(
        test_demo=SUITE.replace(
            "def test_one(gate_target):\n    pass", "def test_one(gate_target):\n    assert False"
        )
    )
    expected = (
        "test_demo.py::test_read never ran (the run stopped early (-x/--maxfail)); run the"
        " whole gate: pytest --env local --gate local_default"
    )
    result = demo.runpytest("--env", "local", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _reason(demo, "demo.read") == expected
    (demo.path / "reports" / "gate-local.json").unlink()
    result = demo.runpytest_subprocess("--env", "local", "-x", "-p", "xdist", "-n", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _reason(demo, "demo.read") == expected


def test_a_plugin_that_drops_tests_cannot_make_them_pass(demo: pytest.Pytester) -> None:
    demo.makeconftest(
        """
        def pytest_collection_modifyitems(items):
            items[:] = [i for i in items if "test_two" not in i.nodeid]
        """
    )
    result = demo.runpytest("--env", "local")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _reason(demo, "demo.two_checks").startswith("test_demo.py::test_two never ran")


def test_last_failed_reruns_leave_the_rest_unverified(demo: pytest.Pytester) -> None:
    demo.makeini("[pytest]\naddopts = -p cacheprovider\n")
    failing = SUITE.replace(
        "def test_read(gate_target):\n    pass", "def test_read(gate_target):\n    assert False"
    )
    demo.makepyfile(test_demo=failing)
    assert demo.runpytest("--env", "local").ret == pytest.ExitCode.TESTS_FAILED
    demo.makepyfile(test_demo=SUITE)
    result = demo.runpytest("--env", "local", "--lf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert item_status(gate_file(demo))["demo.read"] == ("passed", None)
    assert "test_demo.py::test_one" in _reason(demo, "demo.two_checks")


@pytest.mark.slow
def test_a_crashed_worker_fails_its_item(demo: pytest.Pytester) -> None:
    demo.makepyfile(
        test_demo=SUITE.replace(
            "def test_two(gate_target):\n    pass",
            "def test_two(gate_target):\n    import os\n    os._exit(3)",
        )
    )
    result = demo.runpytest_subprocess("--env", "local", "-p", "xdist", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    status, reason = item_status(gate_file(demo))["demo.two_checks"]
    assert status == "failed"
    assert reason is not None
    assert "crashed" in reason


@pytest.mark.slow
def test_the_failure_reason_is_the_assertions_own_words(demo: pytest.Pytester) -> None:
    demo.makepyfile(
        test_demo=SUITE.replace(
            '@pytest.mark.checklist("demo.read")\ndef test_read(gate_target):\n    pass',
            textwrap.dedent(
                """
                class ContractViolation(AssertionError):
                    pass

                @pytest.mark.checklist("demo.read")
                def test_read(gate_target):
                    raise ContractViolation(
                        'GET /api/content: "available_shares" is a required property\\n'
                        "the whole schema dump follows"
                    )
                """
            ),
        )
    )
    for args in ((), ("-p", "xdist", "-n", "2")):
        demo.runpytest_subprocess("--env", "local", *args)
        item = next(
            i for c in gate_file(demo)["checklists"] for i in c["items"] if i["id"] == "demo.read"
        )
        assert item["reason"] == 'GET /api/content: "available_shares" is a required property'
        assert "the whole schema dump follows" in item["detail"]


def test_loosened_criteria_are_flagged(
    demo: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("GATE_LOCAL_LATENCY_P95_BUDGET_S", "100")
    clean_env.setenv("GATE_LOCAL_GATE", "reading")
    loose = tmp_path / "loose"
    shutil.copytree(demo.path / "checklists", loose)
    text = (loose / "demo.yaml").read_text(encoding="utf-8")
    (loose / "demo.yaml").write_text(
        text.replace('text: "Reading works."', 'text: "Reading works."\n    gating: false'),
        encoding="utf-8",
    )
    result = demo.runpytest(
        "--env", "local", "-o", f"gate_checklists={loose}", "-o", "gate_signoff_max_age=30d"
    )
    flags = gate_file(demo)["flags"]
    assert gate_file(demo)["gate"]["picked_by"] == "env:GATE_LOCAL_GATE"
    assert "gate is 'reading' (env:GATE_LOCAL_GATE), not the shipped 'create_flow'" in flags
    assert "sign-offs count for 30d (ini gate_signoff_max_age), not 7d" in flags
    assert flags[0].startswith(f"checklists come from {loose}, not the repository's ")
    assert any(f.startswith("latency_p95_budget_s is 100.0 (env:GATE_LOCAL_") for f in flags)
    assert "demo.read does not gate (gating: false)" in flags
    criteria = gate_file(demo)["criteria"]["settings"]["latency_p95_budget_s"]
    assert criteria == {
        "value": 100.0,
        "source": "env:GATE_LOCAL_LATENCY_P95_BUDGET_S",
        "baseline": 1.5,
        "flagged": True,
    }
    result.stdout.fnmatch_lines(["CRITERIA local: latency_p95_budget_s is 100.0 *"])


def test_a_refused_write_reads_as_its_reason(
    demo: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-service-role-secret")
    clean_env.setenv("GATE_PROD_SUPABASE_URL", "https://prod.supabase.example.com")
    demo.makepyfile(
        test_demo=SUITE.replace(
            "def test_read(gate_target):\n    pass",
            "def test_read(gate_target, gate_api):\n    gate_api.post('/api/content', json={})",
        )
    )
    demo.runpytest("--env", "prod", "--gate", "reading", "-k", "read")
    assert _reason(demo, "demo.read", "prod") == (
        "writes not allowed on prod: POST /api/content refused before sending"
    )


def test_a_new_sign_off_is_no_change_to_the_criteria(tmp_path: Path) -> None:
    """Sign-offs are recorded per release beside the checklists; editing a checklist is a
    change of criteria."""
    from promorang_gate.decision.criteria import _locally_modified
    from promorang_gate.git import git

    checklists = tmp_path / "checklists"
    checklists.mkdir()
    (checklists / "demo.yaml").write_text(CHECKLIST, encoding="utf-8")
    for args in (("init", "-q"), ("add", "."), ("commit", "-qm", "checklists")):
        proc = git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", *args)
        assert proc is not None
        assert proc.returncode == 0, proc.stderr
    (checklists / "signoffs").mkdir()
    (checklists / "signoffs" / "staging.yaml").write_text("- item: x\n", encoding="utf-8")
    assert not _locally_modified(checklists)
    (checklists / "demo.yaml").write_text(CHECKLIST + "# loosened\n", encoding="utf-8")
    assert _locally_modified(checklists)
