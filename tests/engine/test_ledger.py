"""CleanupLedger: reverse-order removal, SQL fallback, verification, one CleanupError."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from _fake_supabase import FakeDb, FakeSupabase

from promorang_gate.environments import Target
from promorang_gate.ledger import CleanupError, CleanupLedger

CONTENT_ID = "7d9a0c1e-0000-4000-8000-000000000001"
OBJECT = "gate-probes/gate-gr20261125t164700-3fa2c1-probe.png"


def make_target(writes: bool = True, **overrides: Any) -> Target:
    values: dict[str, Any] = {
        "name": "local",
        "api_url": "http://127.0.0.1:9",
        "frontend_url": "http://127.0.0.1:9",
        "supabase_url": "http://127.0.0.1:9",
        "bucket": "content-media",
        "upload_prefix": "uploads",
        "writes_allowed": writes,
        "request_timeout_s": 2.0,
        "readiness_budget_s": 1.0,
        "latency_p95_budget_s": 1.5,
        "failure_rate_budget": 0.02,
        "fallback_rate_budget": 0.02,
        "slo_uploads": 20,
        "slo_concurrency": 4,
        "contract_max_examples": 10,
        "contract_deadline_s": 60.0,
        "service_role_key": "sk-service-role-local",
        "database_url": None,
        "creator_token": None,
        "stripe_webhook_secret": None,
        "sources": {},
    }
    values.update(overrides)
    names = {f.name for f in dataclasses.fields(Target)}
    return Target(**{k: v for k, v in values.items() if k in names})


def seeded() -> FakeSupabase:
    return FakeSupabase(
        tables={
            # Share positions go by FK cascade in a real database; the fake has none.
            "content_items": [{"id": CONTENT_ID, "title": "t"}, {"id": "other", "title": "keep"}],
        },
        objects={"content-media": {OBJECT, "uploads/keep.png"}},
    )


def ledger_for(fake: FakeSupabase, db: FakeDb | None = None, writes: bool = True) -> CleanupLedger:
    return CleanupLedger(make_target(writes), lambda: fake, lambda: db, lambda _: None)


def test_cleanup_removes_everything_in_reverse_order_and_verifies() -> None:
    fake = seeded()
    ledger = ledger_for(fake)
    ledger.object("content-media", OBJECT)
    ledger.content(CONTENT_ID)
    ledger.cleanup()
    assert fake.tables["content_items"] == [{"id": "other", "title": "keep"}]
    assert fake.objects["content-media"] == {"uploads/keep.png"}
    writes = [c for c in fake.calls if c[0] in {"delete", "remove"}]
    assert writes == [
        ("delete", "content_items", (("eq", "id", CONTENT_ID),)),
        ("remove", "content-media", (OBJECT,)),
    ]
    assert ("list", "content-media", "gate-probes") in fake.calls  # verified
    assert ledger.entries == []


def test_sql_fallback_when_rest_fails() -> None:
    fake = seeded()
    fake.fail_delete_tables = {"content_items"}
    fake.fail_remove = True
    db = FakeDb(fake)
    ledger = ledger_for(fake, db)
    ledger.object("content-media", OBJECT)
    ledger.content(CONTENT_ID)
    ledger.cleanup()
    assert fake.tables["content_items"] == [{"id": "other", "title": "keep"}]
    assert OBJECT not in fake.objects["content-media"]
    assert [s[0] for s in db.statements] == [
        'delete from "content_items" where "id" = %s',
        "delete from storage.objects where bucket_id = %s and name = %s",
    ]
    assert db.closed


def test_failures_are_collected_into_one_cleanup_error() -> None:
    fake = seeded()
    fake.fail_remove = True
    fake.noop_delete_tables = {"content_items"}
    ledger = ledger_for(fake)  # no database: no fallback
    ledger.object("content-media", OBJECT)
    ledger.content(CONTENT_ID)
    with pytest.raises(CleanupError) as info:
        ledger.cleanup()
    assert info.value.failures == [
        f"row content_items.id={CONTENT_ID}: still present after delete",
        f"object content-media/{OBJECT}: delete failed (RuntimeError: storage remove failed in "
        "fake); no database URL for a fallback",
    ]
    assert "cleanup on local left 2 thing(s) behind" in str(info.value)


def test_read_only_env_sends_nothing() -> None:
    def no_client() -> Any:
        raise AssertionError("must not be called")

    ledger = CleanupLedger(make_target(False), no_client, no_client, lambda _: None)
    ledger.content(CONTENT_ID)
    ledger.cleanup()


def test_empty_ledger_does_not_build_a_client() -> None:
    def no_client() -> Any:
        raise AssertionError("must not be called")

    CleanupLedger(make_target(True), no_client, no_client, lambda _: None).cleanup()


INNER_CONFTEST = """
import json, os
import pytest
from _fake_supabase import FakeSupabase
from test_ledger_support import make_target

FAKE = FakeSupabase(
    tables={"content_items": [{"id": "c1", "title": "x"}]},
    objects={"content-media": {"gate-probes/gate-gr20261125t164700-3fa2c1-a.png"}},
)

@pytest.fixture(scope="session")
def gate_target():
    return make_target(True)

@pytest.fixture(scope="session")
def gate_supabase():
    return FAKE

def pytest_sessionfinish(session):
    with open("state.json", "w") as f:
        json.dump({"tables": FAKE.tables,
                   "objects": {k: sorted(v) for k, v in FAKE.objects.items()}}, f)
"""


def test_ledger_cleans_up_after_a_failing_test(pytester: pytest.Pytester) -> None:
    here = Path(__file__).parent
    pytester.syspathinsert(here)
    pytester.makepyfile(test_ledger_support="from test_ledger import make_target\n")
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(
        test_inner="""
        def test_creates_then_fails(gate_ledger):
            gate_ledger.content("c1")
            gate_ledger.object("content-media", "gate-probes/gate-gr20261125t164700-3fa2c1-a.png")
            assert False, "product defect"
        """
    )
    result = pytester.runpytest("-p", "no:promorang_gate", "-p", "promorang_gate.fixtures")
    result.assert_outcomes(failed=1)
    state = json.loads((pytester.path / "state.json").read_text())
    assert state == {
        "tables": {"content_items": []},
        "objects": {"content-media": []},
    }


def test_ledger_against_the_sandbox() -> None:
    sandbox = pytest.importorskip("promorang_sandbox", reason="promorang_sandbox not importable")
    import psycopg

    from promorang_gate.http import GateHttp
    from promorang_gate.redaction import Redactor
    from promorang_gate.supabase_access import connect_db, make_supabase

    try:
        handle = sandbox.start_sandbox(ready_timeout_s=30.0)
    except sandbox.PostgresUnavailable as exc:
        pytest.skip(f"sandbox cannot start here (no PostgreSQL): {exc}")
    try:
        st = handle.state
        target = make_target(
            True,
            supabase_url=st.supabase_url,
            service_role_key=st.service_role_key,
            bucket=st.bucket,
            database_url=st.database_url,
        )
        http = GateHttp("sandbox", None, 10.0, True, Redactor([st.service_role_key]), attach=False)
        client = make_supabase(target, http.client)
        title = "[gate gr20261125t164700-3fa2c1] ledger"
        inserted = client.table("content_items").insert({"title": title})
        content_id = inserted.execute().data[0]["id"]
        client.storage.from_(st.bucket).upload(OBJECT, b"\x89PNG", {"content-type": "image/png"})
        ledger = CleanupLedger(target, lambda: client, lambda: None, lambda _: None)
        ledger.object(st.bucket, OBJECT)
        ledger.content(content_id)
        ledger.cleanup()
        assert not client.table("content_items").select("id").eq("id", content_id).execute().data
        names = [o["name"] for o in client.storage.from_(st.bucket).list("gate-probes")]
        assert OBJECT.rsplit("/", 1)[1] not in names
        http.close()
        read_only = connect_db(make_target(False, database_url=st.database_url))
        assert read_only is not None
        with read_only, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            read_only.execute("delete from content_items where false")
    finally:
        handle.stop()
