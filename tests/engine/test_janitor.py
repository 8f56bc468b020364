"""Janitor and end-of-run sweep: only tagged leftovers (anchored grammar, ownership checked) of
recorded runs, made by the gate's test users, in the env's bucket and folders go; look-alikes
and tagged things that are not provably the gate's survive, reported; refusals and failures are
one line with an exit code."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from typing import Any

import httpx
import pytest
from _fake_supabase import FakeDb, FakeSupabase
from test_ledger import make_target

from promorang_gate.cleanup.janitor import EXIT_CODES, run_janitor, sweep_run

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
OLD = "gr20261125t164700-3fa2c1"  # ~19 h before NOW
NEW = "gr20261126t115500-00beef"  # 5 min before NOW
OLD_AT = "2026-11-25T16:48:00+00:00"
NEW_AT = "2026-11-26T11:55:30+00:00"
UUID = "3f1c2a9e-1b2c-4d3e-8f90-0123456789ab"
GATE_USER = "0b7e0f1e-6a55-4c8e-9d6b-5a3f3c1d2e4f"


def jwt(sub: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


def gate_target(writes: bool = True, **overrides: Any) -> Any:
    """The env as the gate knows it: its creator token names the gate's test user."""
    return make_target(writes, creator_token=jwt(GATE_USER), **overrides)


BY_GATE = {"creator_id": GATE_USER}


def seeded() -> FakeSupabase:
    return FakeSupabase(
        tables={
            "content_items": [
                {"id": "a", "title": f"old [gate {OLD}]", "created_at": OLD_AT, **BY_GATE},
                {"id": "b", "title": f"new [gate {NEW}]", "created_at": NEW_AT, **BY_GATE},
                {"id": "c", "title": "real creator content", "created_at": OLD_AT},
                {"id": "d", "title": "[gate gr2026-broken] odd", "created_at": OLD_AT},
                # Look-alike: the tag inside a user's title.
                {"id": "e", "title": f"Investigate [gate {OLD}] regression", "created_at": OLD_AT},
                # Renamed foreign row: tagged, but created long before the run.
                {
                    "id": "f",
                    "title": f"renamed [gate {OLD}]",
                    "created_at": "2025-01-01T00:00:00Z",
                    **BY_GATE,
                },
                # Someone else's row, its title ending in a well-formed tag of a recorded run.
                {
                    "id": "g",
                    "title": f"mine [gate {OLD}]",
                    "created_at": OLD_AT,
                    "creator_id": "u2",
                },
            ],
            "content_share_positions": [
                {"id": "p", "content_id": "a"},
                {"id": "q", "content_id": "e"},
            ],
        },
        objects={
            "content-media": {
                f"gate-probes/gate-{OLD}-probe.png",
                f"gate-probes/gate-{OLD}/nested/x.png",
                f"gate-probes/gate-{NEW}-probe.png",
                f"uploads/mock-user-id/2026/11/25/{UUID}-gate-{OLD}-upload.png",
                "uploads/mock-user-id/2026/11/25/1234-holiday.png",
                f"uploads/mock-user-id/2026/11/25/delegate-{OLD}.png",  # look-alike
                f"elsewhere/gate-{OLD}-x.png",
            },
            # A bucket other than the configured one: the API stored there.
            "avatars": {f"u/{UUID}-gate-{OLD}-avatar.png", "u/face.png"},
        },
    )


def test_removes_only_what_recorded_runs_of_the_gate_made_in_its_bucket() -> None:
    fake = seeded()
    out = io.StringIO()
    code = run_janitor(gate_target(), 3600, out, client=fake, now=NOW, recorded={OLD, NEW})  # type: ignore[arg-type]
    assert [r["id"] for r in fake.tables["content_items"]] == ["b", "c", "d", "e", "f", "g"]
    # Positions are never deleted on their own (in a database they cascade with "a").
    assert [p["id"] for p in fake.tables["content_share_positions"]] == ["p", "q"]
    assert fake.objects["content-media"] == {
        f"gate-probes/gate-{NEW}-probe.png",
        "uploads/mock-user-id/2026/11/25/1234-holiday.png",
        f"uploads/mock-user-id/2026/11/25/delegate-{OLD}.png",
        f"elsewhere/gate-{OLD}-x.png",
    }
    assert fake.objects["avatars"] == {f"u/{UUID}-gate-{OLD}-avatar.png", "u/face.png"}
    lines = out.getvalue().splitlines()
    assert lines[0] == f"removed content_items a 'old [gate {OLD}]' ({OLD}, 19.2h old)"
    assert sum(line.startswith("removed object content-media/") for line in lines) == 3
    alone = [line for line in lines if line.startswith("left alone ")]
    assert any(line.startswith("left alone content_items f ") for line in alone)
    assert any(
        line.startswith("left alone content_items g ")
        and "looks like ours, left alone: its creator u2 is not one of the gate's test users"
        in line
        for line in alone
    )
    assert any(f"avatars/u/{UUID}" in line and "is not the env's bucket" in line for line in alone)
    assert any("elsewhere/" in line and "outside the env's folders" in line for line in alone)
    skipped = [line for line in lines if line.startswith("skipped (newer than --older-than) ")]
    assert len(skipped) == 2
    assert lines[-1] == "janitor: local: removed 4, failed 0, left alone 4, skipped 2 of newer runs"
    assert code == EXIT_CODES["left"]
    deletes = [c for c in fake.calls if c[0] == "delete"]
    assert deletes == [
        ("delete", "content_items", (("eq", "id", "a"), ("eq", "title", f"old [gate {OLD}]")))
    ]


def test_a_tag_of_a_run_the_gate_never_recorded_is_left_alone() -> None:
    fake = seeded()
    out = io.StringIO()
    code = run_janitor(gate_target(), 3600, out, client=fake, now=NOW, recorded=set())  # type: ignore[arg-type]
    assert code == EXIT_CODES["left"]
    assert not [c for c in fake.calls if c[0] in ("delete", "remove")]
    lines = out.getvalue().splitlines()
    assert f"run {OLD} is not in the gate's record of runs" in lines[0]
    assert lines[-1].startswith("janitor: local: removed 0, failed 0, left alone ")


def test_tagged_leftovers_of_newer_runs_are_never_clean() -> None:
    """After a killed run, ``--older-than`` skips its things: counted, and exit 1."""
    fake = FakeSupabase(
        tables={
            "content_items": [
                {"id": "b", "title": f"new [gate {NEW}]", "created_at": NEW_AT, **BY_GATE}
            ]
        },
        objects={"content-media": set()},
    )
    out = io.StringIO()
    code = run_janitor(gate_target(), 3600, out, client=fake, now=NOW, recorded={NEW})  # type: ignore[arg-type]
    assert code == EXIT_CODES["left"]
    assert out.getvalue().splitlines()[-1] == (
        "janitor: local: removed 0, failed 0, left alone 0, skipped 1 of newer runs"
    )
    assert fake.tables["content_items"] != []


def test_sweep_run_removes_exactly_one_run() -> None:
    fake = seeded()
    result = sweep_run(gate_target(), NEW, client=fake)  # type: ignore[arg-type]
    assert result.ok
    assert result.exit_code == 0
    assert result.removed == [
        f"content_items b 'new [gate {NEW}]' ({NEW})",
        f"object content-media/gate-probes/gate-{NEW}-probe.png ({NEW})",
    ]
    assert result.found == result.removed
    assert [r["id"] for r in fake.tables["content_items"]] == ["a", "c", "d", "e", "f", "g"]
    assert ("like", "title", f"%[gate {NEW}]") in next(c for c in fake.calls if c[0] == "select")[2]


def test_sweep_run_finds_a_row_by_its_description_where_the_title_is_not_the_tags() -> None:
    """A case that made the title invalid (``[null, null]``) tagged the description; a build
    that stored it answered 500 (build H): the sweep finds the row by the description alone."""
    row = {"id": "h", "title": "[null, null]", "description": f"[gate {NEW}]", **BY_GATE}
    fake = FakeSupabase(tables={"content_items": [{**row, "created_at": NEW_AT}]})
    fake.buckets.add("content-media")
    result = sweep_run(gate_target(), NEW, client=fake)  # type: ignore[arg-type]
    assert result.ok, result
    assert result.removed == [f"content_items h '[null, null]' ({NEW})"]
    assert fake.tables["content_items"] == []
    deletes = [c for c in fake.calls if c[0] == "delete"]
    assert deletes == [
        ("delete", "content_items", (("eq", "id", "h"), ("eq", "description", f"[gate {NEW}]")))
    ]


def test_sweep_run_reports_what_is_not_the_runs() -> None:
    fake = seeded()
    result = sweep_run(gate_target(), OLD, client=fake)  # type: ignore[arg-type]
    assert len(result.removed) == 4
    assert result.left_alone[0] == (
        f"content_items f 'renamed [gate {OLD}]' ({OLD}): it was created at"
        f" 2025-01-01T00:00:00+00:00, before run {OLD} started (2026-11-25T16:47:00+00:00)"
    )
    assert len(result.left_alone) == 4  # f, g, elsewhere/, avatars/
    assert not result.ok
    assert result.exit_code == EXIT_CODES["left"]
    with pytest.raises(ValueError, match="not a run id"):
        sweep_run(make_target(True), "gate-x", client=fake)  # type: ignore[arg-type]


@pytest.mark.parametrize("overrides", [{"writes_allowed": False}, {"protected": True}])
def test_refuses_and_says_how_to_clean_by_hand(overrides: dict[str, Any]) -> None:
    fake = seeded()
    out = io.StringIO()
    code = run_janitor(make_target(**overrides), 0, out, client=fake, now=NOW)  # type: ignore[arg-type]
    assert code == EXIT_CODES["refused"]
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text.startswith("janitor: refused: writes are not allowed on local")
    assert "To clean it by hand" in text
    assert "WRITES_ALLOWED" not in text  # never how to unlock
    assert fake.calls == []
    assert sweep_run(make_target(**overrides), OLD, client=fake).exit_code == 2  # type: ignore[arg-type]


def test_storage_failure_falls_back_to_sql_then_reports() -> None:
    fake = seeded()
    fake.fail_remove = True
    db = FakeDb(fake)
    out = io.StringIO()
    code = run_janitor(
        gate_target(),
        3600,
        out,
        client=fake,  # type: ignore[arg-type]
        db_factory=lambda: db,  # type: ignore[arg-type,return-value]
        now=NOW,
        recorded={OLD, NEW},
    )
    assert code == EXIT_CODES["left"]  # the renamed row is still reported
    assert len(fake.objects["content-media"]) == 4
    assert db.closed

    fake = seeded()
    fake.fail_remove = True
    out = io.StringIO()
    code = run_janitor(gate_target(), 3600, out, client=fake, now=NOW, recorded={OLD})  # type: ignore[arg-type]
    assert code == 1
    failed = [line for line in out.getvalue().splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3
    assert all("storage remove failed in fake" in line for line in failed)
    assert out.getvalue().splitlines()[-1] == (
        "janitor: local: removed 1, failed 3, left alone 4, skipped 2 of newer runs"
    )


class _Rejected(Exception):
    def __init__(self) -> None:
        super().__init__("{'statusCode': 403, 'error': Unauthorized, 'message': invalid signature}")
        self.status = 403


@pytest.mark.parametrize(
    ("error", "bucket", "kind", "fragment"),
    [
        (httpx.ConnectError("refused"), None, "unreachable", "is unreachable (ConnectError)"),
        (_Rejected(), None, "denied", "rejected the service-role key"),
        (None, "no-such-bucket", "no_bucket", "bucket 'no-such-bucket' does not exist"),
        (RuntimeError("boom\nsecond line"), None, "stopped", "stopped: RuntimeError: boom"),
    ],
)
def test_whole_run_failures_are_one_line_with_their_exit_code(
    error: Exception | None, bucket: str | None, kind: str, fragment: str
) -> None:
    fake = seeded()
    fake.list_error = error
    target = make_target(True, bucket=bucket or "content-media", service_role_key="sk-canary-jan")
    out = io.StringIO()
    code = run_janitor(target, 0, out, client=fake, now=NOW)  # type: ignore[arg-type]
    assert code == EXIT_CODES[kind]
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0]
    assert [c for c in fake.calls if c[0] in ("delete", "remove")] == []


def test_a_listing_that_never_ends_is_cut_short() -> None:
    """A gateway answering full pages for ever cannot hold the janitor: it stops after
    ``_MAX_PAGES`` pages (the next sweep takes the rest)."""
    from promorang_gate.cleanup.janitor import _MAX_PAGES, _PAGE, _walk

    class EndlessBucket:
        calls = 0

        def list(self, prefix: str, options: dict[str, int]) -> list[dict[str, str]]:
            self.calls += 1
            return [{"name": f"f{options['offset'] + i}", "id": "x"} for i in range(_PAGE)]

    bucket = EndlessBucket()
    assert sum(1 for _ in _walk(bucket, "")) == _PAGE * _MAX_PAGES
    assert bucket.calls == _MAX_PAGES
