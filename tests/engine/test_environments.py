"""Environment resolution: profiles, variables, options, secrets, sources, parametrization."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import LOCAL_SECRET, assert_usage_error, gate_file

from promorang_gate.errors import ConfigError
from promorang_gate.target.environments import (
    parse_env_selection,
    parse_url_options,
    resolve_targets,
)

KNOWN = ["local", "prod", "sandbox", "staging"]


def test_local_profile_defaults_and_sources(tmp_path: Path) -> None:
    targets = resolve_targets(["local"], {"GATE_LOCAL_SERVICE_ROLE_KEY": "k" * 10}, {}, tmp_path)
    local = targets["local"]
    assert (local.api_url, local.frontend_url, local.supabase_url) == (
        "http://localhost:3001",
        "http://localhost:5173",
        "http://127.0.0.1:54321",
    )
    assert local.writes_allowed is True
    assert local.bucket == "content-media"
    assert local.request_timeout_s == 10.0
    assert local.sources["api_url"] == "profile"
    assert local.sources["bucket"] == "default"
    assert local.sources["service_role_key"] == "env:GATE_LOCAL_SERVICE_ROLE_KEY"
    assert local.database_url is None
    assert "k" * 10 not in repr(local)


def test_variables_and_options_override_in_order(tmp_path: Path) -> None:
    environ = {
        "GATE_PROD_SERVICE_ROLE_KEY": "prod-key-123",
        "GATE_PROD_SUPABASE_URL": "https://p.supabase.co/",
        "GATE_PROD_API_URL": "https://from-var.example.com",
        "GATE_PROD_SLO_UPLOADS": "7",
        "GATE_PROD_WRITES_ALLOWED": "no",
        "GATE_PROD_REQUEST_TIMEOUT_S": "2.5",
    }
    options = parse_url_options({"api_url": ["https://from-option.example.com"]}, ["prod"])
    prod = resolve_targets(["prod"], environ, options, tmp_path)["prod"]
    assert prod.api_url == "https://from-option.example.com"
    assert prod.sources["api_url"] == "option"
    assert prod.supabase_url == "https://p.supabase.co"
    assert prod.sources["supabase_url"] == "env:GATE_PROD_SUPABASE_URL"
    assert prod.frontend_url == "https://app.promorang.com"
    assert (prod.slo_uploads, prod.writes_allowed, prod.request_timeout_s) == (7, False, 2.5)


def test_dotenv_file_never_overrides_a_set_variable(tmp_path: Path) -> None:
    (tmp_path / ".env.local").write_text(
        "# secrets\nGATE_LOCAL_SERVICE_ROLE_KEY=from-file-123\n"
        "export GATE_LOCAL_DATABASE_URL='postgresql://u:pw123456@db/x'\n",
        encoding="utf-8",
    )
    from_file = resolve_targets(["local"], {}, {}, tmp_path)["local"]
    assert from_file.service_role_key == "from-file-123"
    assert from_file.sources["service_role_key"] == "file:.env.local"
    assert from_file.database_url == "postgresql://u:pw123456@db/x"
    env = {"GATE_LOCAL_SERVICE_ROLE_KEY": "from-env-456"}
    from_env = resolve_targets(["local"], env, {}, tmp_path)["local"]
    assert from_env.service_role_key == "from-env-456"


@pytest.mark.slow
def test_project_profile_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "staging.toml").write_text(
        'api_url = "https://api.staging.example.com"\n'
        'frontend_url = "https://staging.example.com"\n'
        'supabase_url = "https://s.supabase.co"\n',
        encoding="utf-8",
    )
    (tmp_path / "environments" / "qa.toml").write_text(
        'api_url = "http://qa:1"\nfrontend_url = "http://qa:2"\nsupabase_url = "http://qa:3"\n',
        encoding="utf-8",
    )
    env = {"GATE_STAGING_SERVICE_ROLE_KEY": "abcdefgh", "GATE_QA_SERVICE_ROLE_KEY": "abcdefgh"}
    targets = resolve_targets(
        ["staging", "qa"], env, {}, tmp_path, environments_dir=tmp_path / "environments"
    )
    assert list(targets) == ["staging", "qa"]
    assert targets["staging"].api_url == "https://api.staging.example.com"
    assert targets["staging"].writes_allowed is True  # from the shipped profile
    assert targets["qa"].writes_allowed is False  # default


def test_bad_project_profile_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "qa.toml").write_text("slo_uploads = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"slo_uploads from profile .*qa.toml must be an integer"):
        resolve_targets(["qa"], {}, {}, tmp_path, environments_dir=tmp_path / "environments")


def test_sandbox_needs_state_outside_pytest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedded sandbox: give its state file"):
        resolve_targets(["sandbox"], {}, {}, tmp_path)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (None, ["sandbox"]),
        (["local"], ["local"]),
        (["staging,prod", "local", "prod"], ["staging", "prod", "local"]),
    ],
)
def test_env_selection(values: list[str] | None, expected: list[str]) -> None:
    assert parse_env_selection(values, KNOWN) == expected


def test_url_options_with_several_envs() -> None:
    parsed = parse_url_options(
        {"api_url": ["prod=https://a.example.com", "local=http://l:1"], "frontend_url": None},
        ["local", "prod"],
    )
    assert parsed == {
        "prod": {"api_url": "https://a.example.com"},
        "local": {"api_url": "http://l:1"},
    }


def test_multi_env_parametrization_and_header(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-secret-0123")
    clean_env.setenv("GATE_STAGING_API_URL", "https://api.staging.example.com")
    clean_env.setenv("GATE_STAGING_FRONTEND_URL", "https://staging.example.com")
    clean_env.setenv("GATE_STAGING_SUPABASE_URL", "https://s.supabase.co")
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-secret-0123")
    project.makepyfile(
        """
        def test_target(gate_target):
            assert gate_target.name in ("staging", "prod")

        def test_plain():
            pass
        """
    )
    result = project.runpytest(
        "--env", "staging", "--env", "prod", "--supabase-url", "prod=https://p.supabase.co", "-v"
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "promorang-gate: env staging, prod; run gr*",
            "  staging:",
            "    api_url: https://api.staging.example.com (env:GATE_STAGING_API_URL)",
            "    service_role_key: set (env:GATE_STAGING_SERVICE_ROLE_KEY)",
            "    database_url: not set",
            "  prod:",
            "    api_url: https://api.promorang.com (profile)",
            "    supabase_url: https://p.supabase.co (option)",
            "    writes_allowed: False (profile)",
            "*test_target?staging? PASSED*",
            "*test_target?prod? PASSED*",
        ]
    )
    output = result.stdout.str()
    assert "staging-secret-0123" not in output
    assert "prod-secret-0123" not in output
    assert LOCAL_SECRET not in output
    assert gate_file(project, "staging")["gate"]["name"] == "promotion"
    assert gate_file(project, "prod")["gate"]["name"] == "post_deploy"


def test_public_api() -> None:
    import promorang_gate

    assert promorang_gate.__all__ == ["ConfigError", "GateError", "Target", "resolve_targets"]


def test_garbage_sandbox_state_file_is_one_usage_error(project: pytest.Pytester) -> None:
    """Checked at configuration: not an error in every test that needs the sandbox."""
    (project.path / "state.json").write_text("{}", encoding="utf-8")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.checklist("health.api")
        def test_api(gate_target):
            pass
        """
    )
    result = project.runpytest("--env", "sandbox", "--sandbox-state", "state.json")
    assert_usage_error(
        result, project, "sandbox state file state.json: missing or not text: api_url,"
    )


def _qa_profile(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "environments"
    folder.mkdir(exist_ok=True)
    (folder / "qa.toml").write_text(
        'api_url = "http://qa:1"\nfrontend_url = "http://qa:2"\nsupabase_url = "http://qa:3"\n'
        + text,
        encoding="utf-8",
    )
    return folder


def test_create_form_labels_default_to_the_sandbox_form_and_the_profile_overrides(
    tmp_path: Path,
) -> None:
    folder = _qa_profile(
        tmp_path, 'create_form.submit = "Publish"\ncreate_form.title = "Content Title"\n'
    )
    environ = {"GATE_QA_SERVICE_ROLE_KEY": "abcdefgh", "GATE_QA_CREATE_FORM_IMAGE": "Media"}
    form = resolve_targets(["qa"], environ, {}, tmp_path, environments_dir=folder)["qa"]
    assert (form.create_form.submit, form.create_form.title) == ("Publish", "Content Title")
    assert form.create_form.image == "Media"  # GATE_<ENV>_CREATE_FORM_<FIELD>
    assert form.create_form.platform_url == "Platform URL"  # default: the sandbox's form
    assert form.sources["create_form.submit"] == "profile"
    local = resolve_targets(["local"], {"GATE_LOCAL_SERVICE_ROLE_KEY": "k" * 10}, {}, tmp_path)
    assert local["local"].create_form.submit == "Create Content"


def test_a_field_the_form_lacks_is_declared_absent_with_false(tmp_path: Path) -> None:
    folder = _qa_profile(tmp_path, "create_form.share_price = false\n")
    environ = {"GATE_QA_SERVICE_ROLE_KEY": "abcdefgh", "GATE_QA_CREATE_FORM_DESCRIPTION": "False"}
    form = resolve_targets(["qa"], environ, {}, tmp_path, environments_dir=folder)["qa"]
    assert form.create_form.share_price is None
    assert form.create_form.description is None  # GATE_<ENV>_CREATE_FORM_<FIELD>=false
    assert form.create_form.absent() == ["description", "share_price"]
    assert form.create_form.title == "Title"
    local = resolve_targets(["local"], {"GATE_LOCAL_SERVICE_ROLE_KEY": "k" * 10}, {}, tmp_path)
    assert local["local"].create_form.absent() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'create_form.button = "Go"\n',
            r"qa.toml: unknown key\(s\) create_form.button \(known: create_form.submit, ",
        ),
        ('create_form = "Publish"\n', r"qa.toml: create_form must be a table of labels, like"),
        ("create_form.submit = 1\n", r"create_form.submit from profile .*qa.toml must be a string"),
        (
            'create_form.title = "  "\n',
            r"create_form.title from profile .*qa.toml: create_form.title must be the text a user"
            r' sees on the Create form, like "Title", or false for a field the form does not have',
        ),
        (
            "create_form.submit = false\n",
            r"create_form.submit cannot be declared absent \(false\): the check needs it; only"
            r" create_form.platform, create_form.platform_url, ",
        ),
        ("create_form.share_price = true\n", r"create_form.share_price from .* must be a string"),
    ],
    ids=["unknown-field", "not-a-table", "not-a-string", "blank", "submit-absent", "true"],
)
def test_a_bad_create_form_label_names_the_file_and_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    folder = _qa_profile(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        resolve_targets(["qa"], {}, {}, tmp_path, environments_dir=folder)
