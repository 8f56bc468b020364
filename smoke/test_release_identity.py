"""What is under test: the API's build, the frontend bundle and the database's last migration,
read from the deployment and recorded in the gate file; every commit they state must be the
release's."""

from __future__ import annotations

import os
from typing import Any

import pytest

from _support import env_variable
from promorang_gate.identity import (
    DeployedIdentity,
    read_api_build,
    read_bundle,
    read_migration_version,
    same_commit,
)

pytestmark = pytest.mark.release


def _expected_commit(request: pytest.FixtureRequest, target: Any) -> tuple[str | None, str]:
    option = request.config.getoption("gate_expect_commit")
    if option:
        return str(option), "--expect-commit"
    variable = env_variable(target.name, "expect_commit")
    if os.environ.get(variable):
        return os.environ[variable], variable
    if target.app_repo:
        from promorang_gate.release.app_repo import AppRepo

        head = AppRepo(target.app_repo).head()
        if head:
            return head, "the application repository's HEAD"
    return None, "none"


@pytest.mark.checklist("release.identity")
def test_deployment_runs_the_release_commit(
    request: pytest.FixtureRequest,
    gate_target: Any,
    gate_api: Any,
    gate_http: Any,
    gate_db: Any,
    gate_metrics: Any,
) -> None:
    commit, source = read_api_build(
        gate_api, gate_http, gate_target.api_url, gate_target.vercel_token
    )
    bundle, bundle_commit = read_bundle(gate_http, gate_target.frontend_url)
    identity = DeployedIdentity(
        commit, source, bundle, bundle_commit, read_migration_version(gate_db)
    )
    expected, expected_from = _expected_commit(request, gate_target)
    gate_metrics.record("identity", {**identity.to_json(), "expected_commit": expected})
    stated = identity.stated_commits()
    if not stated:
        pytest.skip(
            "no deployed identity can be read: the API's health states no commit, no"
            f" {env_variable(gate_target.name, 'vercel_token')} reads Vercel's, and the bundle"
            " states none"
        )
    if expected is None:
        pytest.skip(
            f"no release commit to compare with: give --expect-commit SHA or"
            f" {env_variable(gate_target.name, 'expect_commit')} (deployed: {identity.describe()})"
        )
    wrong = {part: sha for part, sha in stated.items() if not same_commit(sha, expected)}
    assert not wrong, (
        f"the deployment is not the release {expected[:12]} ({expected_from}): "
        + ", ".join(f"{part} runs {sha[:12]}" for part, sha in wrong.items())
    )
