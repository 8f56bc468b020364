"""The application repository as an input: option, variable, ini key and sandbox, resolved once
with their source and printed in the header; without one, its checks are not verified."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import assert_usage_error, gate_file, item_status

from app_repos import commit, write_repo
from promorang_gate.errors import ConfigError
from promorang_gate.release.app_repo import parse_release_date

SUITE = """
import pytest

@pytest.mark.checklist("growth_hub.rollback_plan")
def test_repo(gate_app_repo, gate_release_date, gate_target):
    print(f"REPO {gate_target.name} {gate_app_repo.path} {gate_release_date}")
"""


def _repo(project: pytest.Pytester, name: str = "release") -> Path:
    return write_repo(project.path / name)


def test_option_gives_the_repo_and_the_header_prints_its_head(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    repo = _repo(project)
    head = commit(repo)
    result = project.runpytest("--env", "local", "--app-repo", "release", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"    app_repo: {repo} at {head[:12]} (option)", f"*REPO local {repo} *"]
    )


def test_variable_then_ini_and_a_plain_folder_is_not_a_checkout(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    project.makepyfile(SUITE)
    by_variable, by_ini = _repo(project, "a"), _repo(project, "b")
    project.makeini("[pytest]\naddopts = -p no:cacheprovider\ngate_app_repo = b\n")
    result = project.runpytest("--env", "local", "-s")
    result.stdout.fnmatch_lines(
        [f"    app_repo: {by_ini} (not a git checkout) (ini:gate_app_repo)"]
    )
    clean_env.setenv("GATE_LOCAL_APP_REPO", str(by_variable))
    result = project.runpytest("--env", "local", "-s")
    result.stdout.fnmatch_lines(
        [f"    app_repo: {by_variable} (not a git checkout) (env:GATE_LOCAL_APP_REPO)"]
    )


def test_env_prefixed_option_is_for_that_env_only(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-secret-0123456789")
    for key in ("API", "FRONTEND", "SUPABASE"):
        clean_env.setenv(f"GATE_STAGING_{key}_URL", "https://staging.example.com")
    shared, own = _repo(project, "shared"), _repo(project, "own")
    result = project.runpytest(
        "--env", "local,staging", "--app-repo", "shared", "--app-repo", "staging=own", "-s"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"*REPO local {shared} *", f"*REPO staging {own} *"])


def test_without_a_repo_the_items_are_not_verified_naming_the_option(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local", "--gate", "growth_hub")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["    app_repo: not set (--app-repo PATH or GATE_<ENV>_APP_REPO)"])
    status, reason = item_status(gate_file(project))["growth_hub.rollback_plan"]
    assert status == "not_verified"
    assert reason == (
        "no application repository for env 'local': give the checkout being released with"
        " --app-repo PATH or GATE_LOCAL_APP_REPO"
    )


@pytest.mark.parametrize(
    ("args", "variable", "fragment"),
    [
        (["--app-repo", "nowhere"], None, "--app-repo nowhere: no such directory"),
        ([], "file.txt", "GATE_LOCAL_APP_REPO=file.txt: not a directory"),
    ],
    ids=["option", "variable"],
)
def test_a_repo_that_is_no_directory_is_a_usage_error(
    project: pytest.Pytester,
    clean_env: pytest.MonkeyPatch,
    args: list[str],
    variable: str | None,
    fragment: str,
) -> None:
    project.makepyfile(SUITE)
    (project.path / "file.txt").write_text("x", encoding="utf-8")
    if variable is not None:
        clean_env.setenv("GATE_LOCAL_APP_REPO", variable)
    result = project.runpytest("--env", "local", *args)
    assert_usage_error(result, project, fragment)


def test_a_bad_release_date_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local", "--release-date", "29.10.2025")
    assert_usage_error(
        result, project, "--release-date '29.10.2025': expected a date as YYYY-MM-DD"
    )


def test_the_release_date_defaults_to_today() -> None:
    import datetime as dt

    assert str(parse_release_date(None, dt.date(2025, 10, 29))) == "2025-10-29"
    assert parse_release_date("2025-10-29").source == "--release-date"
    with pytest.raises(ConfigError):
        parse_release_date("20251029")


def test_signable_items_take_a_sign_off(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest(
        "--env", "local", "--signoff", "growth_hub.api_docs=alice", "--signoff-note", "docs read"
    )
    assert result.ret != pytest.ExitCode.USAGE_ERROR, result.stderr.str()


def test_the_launch_evidence_items_are_automated_and_signable(repo_root: Path) -> None:
    from promorang_gate.decision.checklists import load_catalog

    items = load_catalog(repo_root / "checklists").items
    for item_id in ("growth_hub.api_docs", "growth_hub.rollback_plan"):
        assert (items[item_id].manual, items[item_id].signable) == (False, True)
    assert items["migrations.apply_from_scratch"].text.startswith(
        "Test locally: `supabase db reset`"
    )


def test_the_env_file_may_name_the_repo(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    repo = _repo(project)
    (project.path / ".env.local").write_text("GATE_LOCAL_APP_REPO=release\n", encoding="utf-8")
    result = project.runpytest("--env", "local", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"    app_repo: {repo} (not a git checkout) (file:.env.local)"])


def test_a_path_outside_the_project_must_be_one_word(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("release")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local", "--app-repo", str(elsewhere))
    assert_usage_error(result, project, f"write --app-repo={elsewhere} (one word)")
