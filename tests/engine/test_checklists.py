"""Checklist catalog and sign-offs: the shipped files load; mistakes name file and problem."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from promorang_gate.decision.checklists import load_catalog, load_signoffs, parse_signoff_options
from promorang_gate.errors import ConfigError


def test_shipped_checklists_load(repo_root: Path) -> None:
    catalog = load_catalog(repo_root / "checklists")
    assert [c.id for c in catalog.checklists] == [
        "contract",
        "create_flow",
        "growth_hub",
        "health",
        "migrations",
        "monitoring",
        "release",
        "security",
        "webhooks",
    ]
    assert catalog.items["slo.storage_quota"].manual is True
    assert catalog.items["slo.storage_quota"].checklist_id == "monitoring"
    assert catalog.items["create_flow.upload_image"].gating is True


def test_shipped_sandbox_signoffs_load(repo_root: Path) -> None:
    catalog = load_catalog(repo_root / "checklists")
    signoffs = load_signoffs(catalog, ["sandbox", "prod"])
    assert signoffs["prod"] == {}
    quota = signoffs["sandbox"]["slo.storage_quota"]
    assert quota.by == "promorang-gate maintainers"
    assert quota.describe().startswith("signed by promorang-gate maintainers at 2026-11-25")


def test_absent_directory_is_an_empty_catalog(tmp_path: Path) -> None:
    assert load_catalog(tmp_path / "nothing").checklists == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- just a list", "expected a mapping"),
        ("id: x\ntitle: X\nitems: []\n", "'items' must be a non-empty list"),
        ("id: x\nitems:\n  - id: x.a\n    text: A\n", "'title' must be a non-empty string"),
        ("id: x\ntitle: X\nitems:\n  - id: x.a\n    text: A\n    manual: maybe\n", "'manual'"),
        ("id: x\ntitle: X\nowner: me\nitems:\n  - id: x.a\n    text: A\n", "unknown key(s) owner"),
        ("id: x\ntitle: X\nitems:\n  - id: x.a\n    text: A\n  - id: x.a\n    text: B\n", "twice"),
        ("id: [x\n", "not readable YAML"),
    ],
)
def test_bad_checklist_file(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_catalog(tmp_path)
    assert str(excinfo.value).startswith(f"checklist file {tmp_path / 'x.yaml'}")
    assert problem in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("item: x\n", "expected a list"),
        (
            "- item: health.nope\n  by: a\n  at: 2026-01-01\n  env: local\n",
            "unknown checklist item",
        ),
        ("- item: slo.storage_quota\n  by: a\n  at: soon\n  env: local\n", "'at' must be an ISO"),
        ("- item: slo.storage_quota\n  by: a\n  at: 2026-01-01\n  env: prod\n", "does not match"),
        (
            "- item: health.api\n  by: a\n  at: 2026-01-01\n  env: local\n",
            "'health.api' is verified by its checks; only manual and signable items",
        ),
    ],
)
def test_bad_signoff_file(repo_root: Path, tmp_path: Path, text: str, problem: str) -> None:
    shutil.copytree(repo_root / "checklists", tmp_path / "checklists")
    (tmp_path / "checklists" / "signoffs" / "local.yaml").write_text(text, encoding="utf-8")
    catalog = load_catalog(tmp_path / "checklists")
    with pytest.raises(ConfigError, match=r"sign-off file .*local\.yaml") as excinfo:
        load_signoffs(catalog, ["local"])
    assert problem in str(excinfo.value)


def test_signoff_option_applies_to_every_env(repo_root: Path) -> None:
    catalog = load_catalog(repo_root / "checklists")
    now = dt.datetime(2026, 11, 25, 16, 47, tzinfo=dt.UTC)
    signoffs = parse_signoff_options(
        ["slo.storage_quota=frank"], catalog, ["a", "b"], now, "quota alert set"
    )
    assert [(s.env, s.by, s.at, s.note, s.command_line) for s in signoffs] == [
        ("a", "frank", "2026-11-25T16:47:00Z", "quota alert set", True),
        ("b", "frank", "2026-11-25T16:47:00Z", "quota alert set", True),
    ]
    with pytest.raises(ConfigError, match="expected ITEM=WHO"):
        parse_signoff_options(["slo.storage_quota"], catalog, ["a"], now, "note")
    with pytest.raises(ConfigError, match="add --signoff-note TEXT"):
        parse_signoff_options(["slo.storage_quota=frank"], catalog, ["a"], now)


@pytest.mark.slow
def test_markers_tag_user_properties(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api", "slo.upload_latency_p95")
        def test_both(gate_target):
            pass

        @pytest.mark.checklist("health.frontend")
        @pytest.mark.parametrize("case", ["a", "b"])
        def test_cases(gate_target, case):
            pass
        """
    )
    result = project.runpytest("--env", "local", "--junitxml=junit.xml", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.checklist(*ids): the Operations Runbook*"])
    result = project.runpytest("--env", "local", "--junitxml=junit.xml")
    result.assert_outcomes(passed=3)
    xml = (project.path / "junit.xml").read_text(encoding="utf-8")
    assert '<property name="gate_checklist" value="health.api slo.upload_latency_p95" />' in xml
    assert '<property name="gate_env" value="local" />' in xml
    assert (
        '<property name="gate_check" value="test_markers_tag_user_properties.py::test_both" />'
        in xml
    )
    assert (
        '<property name="gate_check" value="test_markers_tag_user_properties.py::test_cases[b]" />'
        in xml
    )
