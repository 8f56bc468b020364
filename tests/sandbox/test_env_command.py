"""`promorang-sandbox env ENV` (and `up --print-env ENV`): the export lines that point a gate
env at a running sandbox, DB URL and application repository included, shell-quoted."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from promorang_sandbox.cli import backend_env, export_lines, main
from promorang_sandbox.state import SandboxState

STATE = SandboxState(
    api_url="http://127.0.0.1:4001",
    frontend_url="http://127.0.0.1:4002",
    supabase_url="http://127.0.0.1:4003",
    anon_key="anon-key-0123456789",
    service_role_key="service-key-0123456789",
    creator_id="c1",
    creator_token="creator-token-0123456789",
    database_url="postgresql://postgres@127.0.0.1:5432/promorang_sandbox_x",
    admin_url="http://127.0.0.1:4004",
    admin_token="admin-token-0123456789",
    bucket="content-media",
    upload_prefix="uploads",
    app_repo="/tmp/app repo",
    other_user_token="other-token-0123456789",
)


def test_export_lines_name_every_setting_the_gate_reads() -> None:
    lines = export_lines(STATE, "staging")
    assert lines == [
        "export GATE_STAGING_API_URL=http://127.0.0.1:4001",
        "export GATE_STAGING_FRONTEND_URL=http://127.0.0.1:4002",
        "export GATE_STAGING_SUPABASE_URL=http://127.0.0.1:4003",
        "export GATE_STAGING_SERVICE_ROLE_KEY=service-key-0123456789",
        "export GATE_STAGING_CREATOR_TOKEN=creator-token-0123456789",
        "export GATE_STAGING_OTHER_USER_TOKEN=other-token-0123456789",
        "export GATE_STAGING_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/promorang_sandbox_x",
        "export GATE_STAGING_APP_REPO='/tmp/app repo'",
    ]
    shell = subprocess.run(
        ["bash", "-c", "\n".join(lines) + '\nprintf %s "$GATE_STAGING_APP_REPO"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "/tmp/app repo"


def test_env_reads_the_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    STATE.write(path)
    assert main(["env", "prod", "--state-file", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "export GATE_PROD_API_URL=http://127.0.0.1:4001"
    )


def test_env_without_a_sandbox_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "state.json"
    assert main(["env", "staging", "--state-file", str(missing), "--wait", "0.2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"promorang-sandbox: error: no state file at {missing} after 0.2 s")
    assert "promorang-sandbox up --state-file" in err


def test_backend_env_names_the_stripe_secrets_the_backend_reads() -> None:
    """The backend's Stripe variables as sandbox values; the gate signs with the same secret."""
    env = backend_env(STATE)
    assert env["STRIPE_SECRET_KEY"].startswith("sk_test_sandbox_")
    assert env["STRIPE_WEBHOOK_SECRET"].startswith("whsec_sandbox_")
    assert env["GATE_LOCAL_STRIPE_WEBHOOK_SECRET"] == env["STRIPE_WEBHOOK_SECRET"]
    assert backend_env(STATE) == env  # one sandbox, one set of values
    own = backend_env(dataclasses.replace(STATE, stripe_webhook_secret="whsec_own_0123456789"))
    assert own["STRIPE_WEBHOOK_SECRET"] == "whsec_own_0123456789"
