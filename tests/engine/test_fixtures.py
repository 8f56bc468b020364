"""The public gate_* fixtures, run through the real plugin on a local target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from _recording_server import RecordingServer
from engine_helpers import LOCAL_SECRET

CREATOR = "creator-token-opaque-9f8e7d6c"


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv = RecordingServer(echo="hello")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def local(
    project: pytest.Pytester, server: RecordingServer, clean_env: pytest.MonkeyPatch
) -> pytest.Pytester:
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_LOCAL_{key}", server.url)
    clean_env.setenv("GATE_LOCAL_CREATOR_TOKEN", CREATOR)
    clean_env.setenv("GATE_LOCAL_READINESS_BUDGET_S", "0.5")
    return project


def test_target_run_id_tag_api_and_http(local: pytest.Pytester, server: RecordingServer) -> None:
    local.makepyfile(
        """
        import re
        from promorang_gate.target.http import GateHttp

        def test_session_fixtures(gate_target, gate_run_id, gate_tag, gate_api, gate_http):
            assert gate_target.name == "local"
            assert re.fullmatch(r"gr\\d{8}t\\d{6}-[0-9a-f]{6}", gate_run_id)
            assert gate_tag == f"gate-{gate_run_id}"
            assert isinstance(gate_api, GateHttp) and gate_api is not gate_http
            assert gate_api.get("/api/health").status_code == 200
            assert gate_http.get(gate_target.frontend_url + "/growth-hub").status_code == 200
            assert gate_api.client.timeout.read == gate_target.request_timeout_s
        """
    )
    result = local.runpytest("--env", "local")
    result.assert_outcomes(passed=1)
    api, front = server.received
    assert api["path"] == "/api/health"
    assert api["headers"]["Authorization"] == f"Bearer {CREATOR}"
    assert "Authorization" not in front["headers"]


def test_one_client_per_env_closed_at_session_end(local: pytest.Pytester) -> None:
    local.makepyfile(
        """
        SEEN = []

        def test_a(gate_api):
            SEEN.append(gate_api)

        def test_b(gate_api):
            assert SEEN == [gate_api]

        def test_closed():
            pass
        """
    )
    local.makeconftest(
        """
        import pytest

        CLIENTS = []

        @pytest.fixture(autouse=True)
        def _collect(request):
            if "gate_api" in request.fixturenames:
                CLIENTS.append(request.getfixturevalue("gate_api"))

        def pytest_sessionfinish(session):
            assert all(c.client.is_closed for c in CLIENTS)
            open("closed.txt", "w").write(str(len(CLIENTS)))
        """
    )
    result = local.runpytest("--env", "local")
    result.assert_outcomes(passed=3)
    assert (local.path / "closed.txt").read_text() == "2"


def test_gate_target_without_parametrization_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_x(gate_target):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:promorang_gate", "-p", "promorang_gate.fixtures")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gate_target is not parametrized: the promorang_gate plugin*"])


def test_gate_metrics_record_user_properties(local: pytest.Pytester) -> None:
    local.makepyfile(
        """
        def test_m(gate_metrics, request):
            gate_metrics.record("p95_s", 0.42)
            gate_metrics("uploads", {"ok": 20, "failed": 0})
            props = [p for p in request.node.user_properties if p[0] == "gate_metric"]
            assert [p[1] for p in props] == [
                '{"name": "p95_s", "value": 0.42}',
                '{"name": "uploads", "value": {"ok": 20, "failed": 0}}',
            ]
        """
    )
    result = local.runpytest("--env", "local", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    tree = ElementTree.parse(local.path / "junit.xml")
    values = [p.get("value") for p in tree.iter("property") if p.get("name") == "gate_metric"]
    assert [json.loads(v or "")["name"] for v in values] == ["p95_s", "uploads"]


def test_gate_ready_polls_within_the_budget(local: pytest.Pytester) -> None:
    local.makepyfile(
        """
        import pytest
        from promorang_gate.target.readiness import StillStarting

        def test_ready(gate_ready):
            calls = []
            def probe():
                calls.append(1)
                if len(calls) < 3:
                    raise StillStarting("not yet")
                return "up"
            assert gate_ready(probe, "api health", interval_s=0.01) == "up"

        def test_never(gate_ready):
            def probe():
                raise StillStarting("503 from health")
            gate_ready(probe, "api health", interval_s=0.05)

        def test_definite_answer_is_final(gate_ready):
            calls = []
            def probe():
                calls.append(1)
                raise AssertionError("wrong body")
            with pytest.raises(AssertionError, match="wrong body"):
                gate_ready(probe, "api health", interval_s=0.05)
            assert len(calls) == 1
        """
    )
    result = local.runpytest("--env", "local", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]local] local: api health: attempt 1 failed after *: StillStarting: not yet*",
            "*NotReady: local: api health: not ready after * attempts in *s (budget 0.5s);"
            " last: StillStarting: 503 from health*",
        ]
    )


@pytest.mark.slow
def test_gate_ledger_cleanup_failure_is_a_teardown_error(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(str(__import__("pathlib").Path(__file__).parent))
    pytester.makeconftest(
        """
        import pytest
        from _fake_supabase import FakeSupabase
        from test_ledger import make_target

        RUN = "gr20261125t164700-3fa2c1"
        FAKE = FakeSupabase(
            fail_remove=True, objects={"content-media": {f"gate-probes/gate-{RUN}-x.png"}}
        )

        @pytest.fixture(scope="session")
        def gate_target():
            return make_target(True)

        @pytest.fixture(scope="session")
        def gate_run_id():
            return RUN

        @pytest.fixture(scope="session")
        def gate_supabase():
            return FAKE
        """
    )
    pytester.makepyfile(
        """
        def test_passes_but_leaves_litter(gate_ledger, gate_run_id):
            gate_ledger.object("content-media", f"gate-probes/gate-{gate_run_id}-x.png")
        """
    )
    result = pytester.runpytest("-p", "no:promorang_gate", "-p", "promorang_gate.fixtures")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_passes_but_leaves_litter*",
            "*CleanupError: cleanup on local left 1 thing(s) behind:*",
        ]
    )


def test_gate_ledger_on_read_only_env_sends_nothing(
    local: pytest.Pytester, server: RecordingServer, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("GATE_LOCAL_WRITES_ALLOWED", "false")
    local.makepyfile(
        """
        def test_write(gate_ledger, gate_api):
            gate_ledger.content("7d9a0c1e-0000-4000-8000-000000000001")
            gate_api.post("/api/content", json={"title": "x"})
        """
    )
    result = local.runpytest("--env", "local", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*writes not allowed on local: POST /api/content refused*"])
    assert server.received == []
    assert LOCAL_SECRET not in result.stdout.str()
