"""CleanupLedger: reverse-order removal, SQL fallback, verification, one CleanupError."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from _fake_supabase import FakeDb, FakeSupabase

from promorang_gate.cleanup.ledger import CleanupError, CleanupLedger
from promorang_gate.cleanup.tags import tagged_png
from promorang_gate.target.environments import Target

CONTENT_ID = "7d9a0c1e-0000-4000-8000-000000000001"
FOREIGN_ID = "7d9a0c1e-0000-4000-8000-0000000000ff"
RUN = "gr20261125t164700-3fa2c1"
OTHER_RUN = "gr20261125t164700-00beef"
AFTER = "2026-11-25T16:47:30.5+00:00"  # just after RUN started
BEFORE = "2026-11-20T09:00:00+00:00"  # days before
TITLE = f"Smoke Test Content [gate {RUN}]"
OBJECT = f"gate-probes/gate-{RUN}-probe.png"
UPLOAD = f"uploads/u/2026/11/25/3f1c2a9e-1b2c-4d3e-8f90-0123456789ab-gate-{RUN}-upload.png"


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
            "content_items": [
                {"id": CONTENT_ID, "title": TITLE, "created_at": AFTER},
                {"id": "other", "title": "keep", "created_at": BEFORE},
            ],
        },
        objects={"content-media": {OBJECT, UPLOAD, "uploads/keep.png"}},
    )


def ledger_for(
    fake: FakeSupabase, db: FakeDb | None = None, writes: bool = True, **target: Any
) -> CleanupLedger:
    return CleanupLedger(
        make_target(writes, **target), lambda: fake, lambda: db, lambda _: None, run_id=RUN
    )


def test_cleanup_removes_everything_in_reverse_order_and_verifies() -> None:
    fake = seeded()
    ledger = ledger_for(fake)
    ledger.object("content-media", OBJECT)
    ledger.object("content-media", UPLOAD)
    ledger.content(CONTENT_ID)
    ledger.cleanup()
    assert fake.tables["content_items"] == [{"id": "other", "title": "keep", "created_at": BEFORE}]
    assert fake.objects["content-media"] == {"uploads/keep.png"}
    writes = [c for c in fake.calls if c[0] in {"delete", "remove"}]
    assert writes == [
        ("delete", "content_items", (("eq", "id", CONTENT_ID), ("eq", "title", TITLE))),
        ("remove", "content-media", (UPLOAD, OBJECT)),
    ]
    # Read before the delete (ownership), listed before and after the removal.
    assert fake.calls.index(("select", "content_items", (("eq", "id", CONTENT_ID),))) < 2
    assert fake.calls.count(("list", "content-media", "gate-probes")) == 2
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
    assert fake.tables["content_items"] == [{"id": "other", "title": "keep", "created_at": BEFORE}]
    assert OBJECT not in fake.objects["content-media"]
    assert [s[0] for s in db.statements] == [
        'delete from "content_items" where "id" = %s and "title" = %s',
        "delete from storage.objects where bucket_id = %s and name = %s",
    ]
    assert db.statements[0][1] == (CONTENT_ID, TITLE)
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
    assert info.value.foreign == []
    assert str(info.value).splitlines()[0] == "cleanup on local left 2 thing(s) behind:"


def test_foreign_ids_and_urls_are_left_alone_and_reported() -> None:
    """The deployment answered the id of a row and the URL of an object it did not create."""
    fake = seeded()
    fake.tables["content_items"].append(
        {"id": FOREIGN_ID, "title": "Holiday plans", "created_at": BEFORE}
    )
    fake.objects["content-media"].add("uploads/u/holiday.png")
    ledger = ledger_for(fake)
    ledger.content(CONTENT_ID)
    ledger.content(FOREIGN_ID)
    ledger.object("content-media", OBJECT)
    ledger.object("content-media", "uploads/u/holiday.png")
    with pytest.raises(CleanupError) as info:
        ledger.cleanup()
    assert [r["id"] for r in fake.tables["content_items"]] == ["other", FOREIGN_ID]
    assert fake.objects["content-media"] == {UPLOAD, "uploads/keep.png", "uploads/u/holiday.png"}
    assert info.value.failures == []
    # The row is older than the run: provably other data. The object carries no tag of this
    # run in its name or bytes and storage gave no time: whose it is cannot be told, and the
    # error says only that.
    assert info.value.foreign == [
        f"row content_items.id={FOREIGN_ID}: not ours, left alone: its stored title does not end"
        f" with [gate {RUN}]",
    ]
    assert info.value.untagged == [
        "object content-media/uploads/u/holiday.png: does not carry this run's tag, left alone:"
        f" its stored name does not carry gate-{RUN} at the start of a path segment and its"
        " stored bytes do not carry it either",
    ]
    assert str(info.value).startswith(
        "cleanup on local: 1 registered thing(s) were not created by this run and were left alone"
        " (the deployment answered ids or URLs of other data); 1 registered thing(s) do not carry"
        " this run's tag where they are stored and were left alone"
    )
    deletes = [c for c in fake.calls if c[0] in {"delete", "remove"}]
    assert all(FOREIGN_ID not in str(c) and "holiday" not in str(c) for c in deletes)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"title": f"Investigate [gate {RUN}] regression", "created_at": AFTER}, "does not end"),
        ({"title": f"x [gate {OTHER_RUN}]", "created_at": AFTER}, "does not end"),
        ({"title": TITLE, "created_at": BEFORE}, "before run"),  # a foreign row renamed
        ({"title": TITLE}, "no readable created_at"),
        ({"title": None, "created_at": AFTER}, "does not end"),
    ],
)
def test_rows_that_fail_the_ownership_check_survive(row: dict[str, Any], reason: str) -> None:
    fake = FakeSupabase(tables={"content_items": [{"id": FOREIGN_ID, **row}]})
    ledger = ledger_for(fake)
    ledger.content(FOREIGN_ID)
    with pytest.raises(CleanupError) as info:
        ledger.cleanup()
    assert len(fake.tables["content_items"]) == 1
    assert reason in [*info.value.foreign, *info.value.untagged][0]
    assert not [c for c in fake.calls if c[0] == "delete"]


@pytest.mark.parametrize(
    "name",
    [
        f"uploads/u/delegate-{RUN}.png",
        f"uploads/u/x-gate-{RUN}.png",
        f"uploads/u/gate-{OTHER_RUN}-a.png",
        f"uploads/gate-{RUN}x/a.png",
    ],
)
def test_look_alike_object_names_survive(name: str) -> None:
    fake = FakeSupabase(objects={"content-media": {name}})
    ledger = ledger_for(fake)
    ledger.object("content-media", name)
    with pytest.raises(CleanupError) as info:
        ledger.cleanup()
    assert fake.objects["content-media"] == {name}
    assert "left alone" in [*info.value.foreign, *info.value.untagged][0]
    assert not [c for c in fake.calls if c[0] == "remove"]
    if "gate-gr" in name.rsplit("/", 1)[-1][:8]:  # another run's name: refused on it alone
        assert fake.calls == []


def test_a_row_whose_title_a_case_replaced_is_proven_by_its_description() -> None:
    """An invalid case sends ``"title": [null, null]``; a build that stores it keeps the run's
    tag in the description: removed, conditional on that description."""
    description = f"[gate {RUN}]"
    row = {"id": CONTENT_ID, "title": "[null, null]", "description": description}
    fake = FakeSupabase(tables={"content_items": [{**row, "created_at": AFTER}]})
    ledger = ledger_for(fake)
    ledger.content(CONTENT_ID)
    ledger.cleanup()
    assert fake.tables["content_items"] == []
    deletes = [c for c in fake.calls if c[0] == "delete"]
    assert deletes == [
        ("delete", "content_items", (("eq", "id", CONTENT_ID), ("eq", "description", description)))
    ]


FALLBACK_NAME = "uploads/u/2026/11/25/3f1c2a9e-1b2c-4d3e-8f90-0123456789ab-content-1764089250.jpg"


def test_an_object_the_api_named_itself_is_proven_by_its_bytes() -> None:
    """A ``fileName`` of ``false`` is stored as ``content-<ms>.jpg``: the answered path is a
    claim, the PNG's tEXt chunk the proof."""
    fake = FakeSupabase(
        objects={"content-media": {FALLBACK_NAME}},
        contents={FALLBACK_NAME: tagged_png(f"gate-{RUN}")},
        created={FALLBACK_NAME: AFTER},
    )
    ledger = ledger_for(fake)
    ledger.object("content-media", FALLBACK_NAME)
    ledger.cleanup()
    assert fake.objects["content-media"] == set()
    assert ("download", "content-media", FALLBACK_NAME) in fake.calls


@pytest.mark.parametrize(
    "data",
    [
        tagged_png(f"gate-{OTHER_RUN}"),
        tagged_png("holiday"),
        b"not a png gate-" + RUN.encode(),  # the text alone, outside a PNG chunk, proves nothing
    ],
)
def test_an_object_whose_bytes_do_not_carry_the_tag_survives(data: bytes) -> None:
    fake = FakeSupabase(
        objects={"content-media": {FALLBACK_NAME}},
        contents={FALLBACK_NAME: data},
        created={FALLBACK_NAME: AFTER},
    )
    ledger = ledger_for(fake)
    ledger.object("content-media", FALLBACK_NAME)
    with pytest.raises(CleanupError) as info:
        ledger.cleanup()
    assert fake.objects["content-media"] == {FALLBACK_NAME}
    assert not [c for c in fake.calls if c[0] == "remove"]
    left = [*info.value.foreign, *info.value.untagged]
    assert "stored bytes do not carry it either" in left[0]
    if OTHER_RUN.encode() in data:  # another run's: provably other data
        assert info.value.foreign
    else:  # no tag at all: the message says so, and no more
        assert info.value.untagged
        assert "other data" not in str(info.value)
        assert "do not carry this run's tag where they are stored" in str(info.value)


def test_object_stored_before_the_run_survives() -> None:
    fake = FakeSupabase(objects={"content-media": {OBJECT}}, created={OBJECT: BEFORE})
    ledger = ledger_for(fake)
    ledger.object("content-media", OBJECT)
    with pytest.raises(CleanupError, match="before run"):
        ledger.cleanup()
    assert fake.objects["content-media"] == {OBJECT}


OURS = [f"7d9a0c1e-0000-4000-8000-00000000010{n}" for n in range(3)]


def three_of_ours() -> FakeSupabase:
    rows = [{"id": i, "title": TITLE, "created_at": AFTER} for i in OURS]
    return FakeSupabase(
        tables={"content_items": [*rows, {"id": "other", "title": "keep", "created_at": BEFORE}]}
    )


def test_rows_of_one_table_are_read_and_verified_gone_with_one_request_each() -> None:
    fake = three_of_ours()
    ledger = ledger_for(fake)
    for ident in OURS:
        ledger.content(ident)
    ledger.cleanup()
    assert fake.tables["content_items"] == [{"id": "other", "title": "keep", "created_at": BEFORE}]
    batch = ("in", "id", ",".join(reversed(OURS)))
    # Each delete stays conditional on its own row's checked tag, as one by one.
    assert fake.calls == [
        ("select", "content_items", (batch,)),
        *[
            ("delete", "content_items", (("eq", "id", i), ("eq", "title", TITLE)))
            for i in OURS[::-1]
        ],
        ("select", "content_items", (batch,)),
    ]


def test_a_target_that_ignores_the_batch_filter_gets_only_the_registered_rows_deleted() -> None:
    fake = three_of_ours()
    fake.tables["content_items"].append({"id": "theirs", "title": TITLE, "created_at": AFTER})
    fake.in_ignored = True  # every row of the table comes back, ours or not
    ledger = ledger_for(fake)
    for ident in OURS[:2]:
        ledger.content(ident)
    ledger.cleanup()
    assert [r["id"] for r in fake.tables["content_items"]] == [OURS[2], "other", "theirs"]


def test_a_batch_read_that_fails_is_done_one_by_one() -> None:
    fake = three_of_ours()
    fake.in_error = RuntimeError("no in filter here")
    ledger = ledger_for(fake)
    for ident in OURS:
        ledger.content(ident)
    ledger.cleanup()
    assert fake.tables["content_items"] == [{"id": "other", "title": "keep", "created_at": BEFORE}]
    reads = [c for c in fake.calls if c[0] == "select"]
    assert reads == [
        ("select", "content_items", (("eq", "id", i),)) for i in OURS[::-1] for _ in "12"
    ]


def test_a_row_of_a_batch_that_is_not_ours_is_left_and_reported() -> None:
    fake = three_of_ours()
    fake.tables["content_items"][1]["title"] = f"Smoke Test Content [gate {OTHER_RUN}]"
    ledger = ledger_for(fake)
    for ident in OURS:
        ledger.content(ident)
    with pytest.raises(CleanupError) as info:
        ledger.cleanup()
    assert [r["id"] for r in fake.tables["content_items"]] == [OURS[1], "other"]
    assert len(info.value.foreign) == 1
    assert OURS[1] in info.value.foreign[0]


def test_already_gone_is_fine() -> None:
    fake = FakeSupabase(tables={"content_items": []}, objects={"content-media": set()})
    lines: list[str] = []
    ledger = CleanupLedger(make_target(), lambda: fake, lambda: None, lines.append, run_id=RUN)
    ledger.content(CONTENT_ID)
    ledger.object("content-media", OBJECT)
    ledger.cleanup()
    assert [c for c in fake.calls if c[0] in {"delete", "remove"}] == []
    assert lines == [
        f"cleanup on local: object content-media/{OBJECT}: already gone",
        f"cleanup on local: row content_items.id={CONTENT_ID}: already gone",
    ]


@pytest.mark.parametrize("overrides", [{"writes": False}, {"protected": True}])
def test_env_without_writes_sends_nothing(overrides: dict[str, Any]) -> None:
    def no_client() -> Any:
        raise AssertionError("must not be called")

    writes = overrides.pop("writes", True)
    target = make_target(writes, **overrides)
    ledger = CleanupLedger(target, no_client, no_client, lambda _: None, run_id=RUN)
    ledger.content(CONTENT_ID)
    ledger.cleanup()


def test_empty_ledger_does_not_build_a_client() -> None:
    def no_client() -> Any:
        raise AssertionError("must not be called")

    CleanupLedger(make_target(True), no_client, no_client, lambda _: None, run_id=RUN).cleanup()


def test_a_ledger_needs_a_run_id() -> None:
    with pytest.raises(ValueError, match="not a run id"):
        CleanupLedger(make_target(), lambda: None, lambda: None, print, run_id="gate-x")  # type: ignore[arg-type,return-value]


INNER_CONFTEST = """
import json, os
import pytest
from _fake_supabase import FakeSupabase
from test_ledger_support import make_target

FAKE = FakeSupabase(
    tables={"content_items": [{"id": "c1", "title": "x [gate gr20261125t164700-3fa2c1]",
                               "created_at": "2026-11-25T16:48:00Z"}]},
    objects={"content-media": {"gate-probes/gate-gr20261125t164700-3fa2c1-a.png"}},
)

@pytest.fixture(scope="session")
def gate_target():
    return make_target(True)

@pytest.fixture(scope="session")
def gate_run_id():
    return "gr20261125t164700-3fa2c1"

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


@pytest.mark.slow
def test_ledger_against_the_sandbox(sandbox: Any) -> None:
    """A real gateway and database: the run's row and object go, a foreign row stays."""
    import psycopg

    from promorang_gate.cleanup.tags import object_tag, tagged_title
    from promorang_gate.plugin import new_run_id
    from promorang_gate.secrets.redaction import Redactor
    from promorang_gate.target.http import GateHttp
    from promorang_gate.target.supabase_access import connect_db, make_supabase

    st = sandbox.state
    run_id = new_run_id()
    target = make_target(
        True,
        supabase_url=st.supabase_url,
        service_role_key=st.service_role_key,
        bucket=st.bucket,
        database_url=st.database_url,
    )
    path = f"gate-probes/{object_tag(run_id)}-ledger.png"
    with GateHttp(
        "sandbox", None, 10.0, True, Redactor([st.service_role_key]), attach=False
    ) as http:
        client = make_supabase(target, http.client)
        rows = client.table("content_items")
        own = rows.insert({"title": tagged_title("ledger", run_id)}).execute().data[0]["id"]
        foreign = rows.insert({"title": "someone's content"}).execute().data[0]["id"]
        client.storage.from_(st.bucket).upload(path, b"\x89PNG", {"content-type": "image/png"})
        ledger = CleanupLedger(target, lambda: client, lambda: None, lambda _: None, run_id=run_id)
        ledger.object(st.bucket, path)
        ledger.content(own)
        ledger.content(foreign)
        with pytest.raises(CleanupError) as info:
            ledger.cleanup()
        # Created during the run, without its tag: whose it is cannot be told.
        assert [line.split(":")[0] for line in info.value.untagged] == [
            f"row content_items.id={foreign}"
        ]
        assert "do not carry this run's tag where they are stored" in str(info.value)
        assert "other data" not in str(info.value)
        assert not rows.select("id").eq("id", own).execute().data
        assert rows.select("id").eq("id", foreign).execute().data
        names = [o["name"] for o in client.storage.from_(st.bucket).list("gate-probes")]
        assert path.rsplit("/", 1)[1] not in names
        rows.delete().eq("id", foreign).execute()
    read_only = connect_db(make_target(False, database_url=st.database_url))
    assert read_only is not None
    with read_only, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        read_only.execute("delete from content_items where false")
    # A statement ends with the env's request deadline, as a request does, on both kinds.
    for writes in (False, True):
        conn = connect_db(make_target(writes, database_url=st.database_url, request_deadline_s=0.5))
        assert conn is not None
        with conn, pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("select pg_sleep(30)")
