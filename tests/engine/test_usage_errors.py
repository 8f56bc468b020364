"""Every user mistake: exit code 4, one line naming the fix, no traceback, nothing written."""

from __future__ import annotations

import pytest
from engine_helpers import assert_usage_error

SUITE = """
import pytest

@pytest.mark.checklist("health.api")
def test_api(gate_target):
    assert gate_target.name
"""


def test_unknown_env_lists_known_ones(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "moon")
    assert_usage_error(
        result, project, "unknown environment 'moon': known environments are local, prod"
    )


def test_missing_secrets_named_in_one_line(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest(
        "--env",
        "staging,prod",
        "--api-url",
        "staging=https://s.example.com",
        "--frontend-url",
        "staging=https://f.example.com",
        "--supabase-url",
        "staging=https://x.example.com",
        "--supabase-url",
        "prod=https://p.example.com",
    )
    assert_usage_error(
        result,
        project,
        "missing secret for env 'staging': set GATE_STAGING_SERVICE_ROLE_KEY"
        " (or put it in .env.staging); missing secret for env 'prod':"
        " set GATE_PROD_SERVICE_ROLE_KEY (or put it in .env.prod)",
    )


def test_malformed_url_names_key_and_source(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local", "--api-url", "ftp://files.example.com")
    assert_usage_error(result, project, "api_url 'ftp://files.example.com' from option")


def test_malformed_url_from_variable(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_LOCAL_FRONTEND_URL", "localhost:5173")
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "from env:GATE_LOCAL_FRONTEND_URL")


def test_placeholder_url(project: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-secret-value")
    clean_env.setenv("GATE_STAGING_FRONTEND_URL", "https://f.example.com")
    clean_env.setenv("GATE_STAGING_SUPABASE_URL", "https://x.example.com")
    result = project.runpytest("--env", "staging")
    assert_usage_error(
        result,
        project,
        "not configured for env 'staging': its profile has placeholder URLs:"
        " set GATE_STAGING_API_URL (or --api-url)",
    )


def test_unconfigured_staging_names_every_variable_in_one_line(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "staging")
    assert_usage_error(
        result,
        project,
        "missing secret for env 'staging': set GATE_STAGING_SERVICE_ROLE_KEY"
        " (or put it in .env.staging); its profile has placeholder URLs:"
        " set GATE_STAGING_API_URL, GATE_STAGING_FRONTEND_URL, GATE_STAGING_SUPABASE_URL"
        " (or --api-url, --frontend-url, --supabase-url)",
    )


def test_bad_number_variable(project: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_LOCAL_SLO_UPLOADS", "many")
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "GATE_LOCAL_SLO_UPLOADS='many': expected an integer")


def test_bad_bool_variable(project: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_LOCAL_WRITES_ALLOWED", "perhaps")
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "GATE_LOCAL_WRITES_ALLOWED='perhaps': expected a bool")


def test_bad_checklist_file(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    (project.path / "checklists" / "broken.yaml").write_text(
        "id: broken\ntitle: Broken\nitems:\n  - id: nodot\n    text: x\n", encoding="utf-8"
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "broken.yaml, item 1: item id 'nodot' must look like")


def test_checklist_file_without_text(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    (project.path / "checklists" / "broken.yaml").write_text(
        "id: broken\ntitle: Broken\nitems:\n  - id: broken.x\n", encoding="utf-8"
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "broken.yaml, item 'broken.x': 'text' must be")


def test_duplicate_item_id(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    (project.path / "checklists" / "zz.yaml").write_text(
        "id: zz\ntitle: Z\nitems:\n  - id: health.api\n    text: again\n", encoding="utf-8"
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "zz.yaml: id 'health.api' is already used in")


def test_unknown_checklist_id_in_marker(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.apii")
        def test_typo():
            pass
        """
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(
        result,
        project,
        "test_unknown_checklist_id_in_marker.py::test_typo: unknown checklist item 'health.apii'",
    )
    assert "known ids are defined in" in result.errlines[0]


def test_bad_signoff_file(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    (project.path / "checklists" / "signoffs" / "local.yaml").write_text(
        "- item: slo.storage_quota\n  at: 2026-11-25T00:00:00Z\n  env: local\n", encoding="utf-8"
    )
    result = project.runpytest("--env", "local")
    assert_usage_error(result, project, "local.yaml, entry 1: 'by' must be a non-empty string")


def test_signoff_of_non_manual_item(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "local", "--signoff", "health.api=alice")
    assert_usage_error(result, project, "'health.api' is verified by its checks")


def test_url_option_needs_env_with_several_envs(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-secret-value")
    result = project.runpytest("--env", "local,prod", "--api-url", "https://x.example.com")
    assert_usage_error(result, project, "with several environments selected use ENV=URL")


def test_sandbox_state_file_missing(project: pytest.Pytester) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "sandbox", "--sandbox-state", "nowhere.json")
    assert_usage_error(result, project, "--sandbox-state nowhere.json: no such sandbox state file")


def test_usage_error_messages_are_redacted(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    """A URL the user gave may carry credentials; the one-line error must not echo them."""
    project.makepyfile(SUITE)
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", "sk-canary-usage-error")
    result = project.runpytest(
        "--env", "local", "--api-url", "ftp://deploy:hunter2-password@example.com/?key=sk-canary"
    )
    assert_usage_error(result, project, "api_url 'ftp://deploy:[REDACTED]@example.com/")
    output = result.stdout.str() + result.stderr.str()
    assert "hunter2-password" not in output
    assert "sk-canary" not in output
