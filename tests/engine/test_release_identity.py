"""The deployed identity: what the API, the bundle and the database state is read and compared
with the release's commit; ``promorang-gate verdict --expect-commit`` refuses a gate file made
for another build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from promorang_gate.decision.verdict_file import Exit
from promorang_gate.identity import read_api_build, read_bundle, same_commit
from promorang_gate.identity.deployed import describe_identity

SHA = "dc79e59447e8298776feb9b0939b9036a50015b2"
OTHER = "baf89b7eb0000000000000000000000000000000"


class _Fake:
    """A GateHttp stand-in answering fixed bodies by URL (suffix)."""

    def __init__(self, answers: dict[str, httpx.Response]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        self.asked.append((url, headers or {}))
        for suffix, answer in self.answers.items():
            if url.endswith(suffix):
                return answer
        return httpx.Response(404)


def test_the_health_body_states_the_api_build() -> None:
    api = _Fake({"/api/health": httpx.Response(200, json={"status": "OK", "commit": SHA})})
    assert read_api_build(api, _Fake({}), "https://api.example", None) == (SHA, "health")


def test_vercel_metadata_when_the_api_states_nothing() -> None:
    api = _Fake({"/api/health": httpx.Response(200, json={"status": "OK"})})
    vercel = _Fake({"/api.example": httpx.Response(200, json={"meta": {"githubCommitSha": SHA}})})
    assert read_api_build(api, vercel, "https://api.example", "vercel-token-123") == (SHA, "vercel")
    url, headers = vercel.asked[0]
    assert url == "https://api.vercel.com/v13/deployments/api.example"
    assert headers["Authorization"] == "Bearer vercel-token-123"
    assert read_api_build(api, vercel, "https://api.example", None) == (None, "unknown")


def test_a_deployment_that_does_not_answer_states_nothing() -> None:
    class _Slow(_Fake):
        def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
            raise httpx.ReadTimeout("no answer")

    assert read_api_build(_Slow({}), _Slow({}), "https://api.example", "tok-1234") == (
        None,
        "unknown",
    )
    assert read_bundle(_Slow({}), "https://app.example") == (None, None)


def test_the_bundle_is_hashed_and_its_commit_read() -> None:
    script = f'window.__PROMORANG_BUILD_COMMIT__ = "{SHA}";\nconsole.log(1);'.encode()
    http = _Fake(
        {
            "/assets/index-1.js": httpx.Response(200, content=script),
            "/": httpx.Response(200, text='<script type="module" src="/assets/index-1.js">'),
        }
    )
    bundle, commit = read_bundle(http, "https://app.example")
    assert commit == SHA
    assert bundle is not None
    assert bundle.startswith("/assets/index-1.js sha256:")


def test_commits_compare_by_abbreviation_of_seven_or_more() -> None:
    assert same_commit(SHA, SHA[:7])
    assert not same_commit(SHA, SHA[:6])
    assert not same_commit(SHA, OTHER)


def test_an_identity_is_one_line() -> None:
    line = describe_identity(
        {"api_commit": SHA, "api_source": "health", "migration_version": "202510290101"}
        | {"frontend_bundle": None, "frontend_commit": None, "expected_commit": SHA}
    )
    assert line == (
        f"api {SHA[:12]} (health); frontend unknown; database migration 202510290101;"
        f" release {SHA[:12]}"
    )


HEALTHY = """
import pytest

@pytest.mark.checklist("health.api", "health.frontend")
def test_health(gate_target):
    pass
"""


def _verdict(project: pytest.Pytester, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "promorang_gate.cli", "verdict", "reports", "--accept-flags", *args],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stderr


def _with_identity(project: pytest.Pytester, identity: dict[str, Any] | None) -> None:
    path = Path(project.path) / "reports" / "gate-local.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if identity is not None:
        data["identity"] = identity
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.slow
def test_verdict_refuses_a_file_made_for_another_build(project: pytest.Pytester) -> None:
    project.makepyfile(HEALTHY)
    assert project.runpytest("--env", "local").ret == pytest.ExitCode.OK
    assert _verdict(project, "--env", "local", "--expect-commit", SHA) == (
        Exit.OTHER_BUILD,
        "promorang-gate: refused: reports/gate-local.json: records no deployed identity"
        " (release.identity)\n",
    )
    made_for = {"api_commit": SHA, "frontend_commit": None, "expected_commit": SHA}
    _with_identity(project, made_for)
    assert _verdict(project, "--env", "local", "--expect-commit", SHA[:12])[0] == Exit.ALLOW
    code, err = _verdict(project, "--env", "local", "--expect-commit", OTHER)
    assert code == Exit.OTHER_BUILD
    assert f"made for the release {SHA[:12]}, not {OTHER[:12]}" in err
    _with_identity(project, {**made_for, "frontend_commit": OTHER})
    code, err = _verdict(project, "--env", "local", "--expect-commit", SHA)
    assert code == Exit.OTHER_BUILD
    assert f"the frontend it tested runs {OTHER[:12]}" in err


def test_the_step_summary_and_the_executor_name_the_deployment() -> None:
    from promorang_gate.decision.verdict import ChecklistResult, EnvVerdict, ItemResult
    from promorang_gate.identity import identity_of
    from promorang_gate.reporting.allure_results import executor_info
    from promorang_gate.reporting.ci_summary import render_step_summary

    recorded = {"api_commit": SHA, "api_source": "health", "frontend_bundle": None}
    recorded |= {"frontend_commit": None, "migration_version": "7", "expected_commit": SHA}
    item = ItemResult("release.identity", "text", "passed", (), None, {"identity": recorded})
    verdict = EnvVerdict(
        "staging", "promotion", "allow", (ChecklistResult("release", "Release", (item,)),)
    )
    assert identity_of(verdict) == recorded
    summary = render_step_summary(
        [verdict], {}, run_id="gr1", files=[], allure_dir=None, ci_url=None
    )
    assert f"Deployed: api {SHA[:12]} (health); frontend unknown; database migration 7" in summary
    described = describe_identity(recorded)
    executor = executor_info({}, "gr1", None, {"staging": described})
    assert str(executor["buildName"]).endswith(f"; staging: {described}")
