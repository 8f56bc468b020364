"""Janitor: only tagged leftovers older than the age go; read-only envs are refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from _fake_supabase import FakeDb, FakeSupabase
from test_ledger import make_target

from promorang_gate.janitor import parse_run_id, run_janitor

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
OLD = "gr20261125t164700-3fa2c1"  # ~19 h before NOW
NEW = "gr20261126t115500-00beef"  # 5 min before NOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"[gate {OLD}] create", (OLD, dt.datetime(2026, 11, 25, 16, 47, tzinfo=dt.UTC))),
        (
            f"uploads/u/gate-{OLD}-probe.png",
            (OLD, dt.datetime(2026, 11, 25, 16, 47, tzinfo=dt.UTC)),
        ),
        ("gr20261399t250000-abcdef", None),  # not a date
        ("gr2026112t164700-3fa2c1", None),
        ("no tag at all", None),
    ],
)
def test_parse_run_id(text: str, expected: tuple[str, dt.datetime] | None) -> None:
    assert parse_run_id(text) == expected


def seeded() -> FakeSupabase:
    return FakeSupabase(
        tables={
            "content_items": [
                {"id": "a", "title": f"[gate {OLD}] old"},
                {"id": "b", "title": f"[gate {NEW}] new"},
                {"id": "c", "title": "real creator content"},
                {"id": "d", "title": "[gate gr2026-broken] odd"},
            ],
            "content_share_positions": [
                {"id": "p", "content_id": "a"},
                {"id": "q", "content_id": "c"},
            ],
        },
        objects={
            "content-media": {
                f"gate-probes/gate-{OLD}-probe.png",
                f"gate-probes/gate-{OLD}/nested/x.png",
                f"gate-probes/gate-{NEW}-probe.png",
                f"uploads/mock-user-id/2026/11/25/1234-gate-{OLD}-upload.png",
                "uploads/mock-user-id/2026/11/25/1234-holiday.png",
                f"elsewhere/gate-{OLD}-x.png",
            }
        },
    )


def test_removes_only_old_tagged_things() -> None:
    fake = seeded()
    out = io.StringIO()
    code = run_janitor(make_target(True), 3600, out, client=fake, now=NOW)  # type: ignore[arg-type]
    assert code == 0
    assert [r["id"] for r in fake.tables["content_items"]] == ["b", "c", "d"]
    assert fake.tables["content_share_positions"] == [{"id": "q", "content_id": "c"}]
    assert fake.objects["content-media"] == {
        f"gate-probes/gate-{NEW}-probe.png",
        "uploads/mock-user-id/2026/11/25/1234-holiday.png",
        f"elsewhere/gate-{OLD}-x.png",  # outside the walked prefixes
    }
    lines = out.getvalue().splitlines()
    assert lines[0] == f"removed content_items a '[gate {OLD}] old' ({OLD}, 19.2h old)"
    assert sum(line.startswith("removed object content-media/") for line in lines) == 3
    assert lines[-1] == "janitor: local: removed 4, failed 0"


def test_refuses_on_env_without_writes() -> None:
    fake = seeded()
    out = io.StringIO()
    code = run_janitor(make_target(False), 0, out, client=fake, now=NOW)  # type: ignore[arg-type]
    assert code == 2
    assert "refused: writes are not allowed on local" in out.getvalue()
    assert fake.calls == []


def test_storage_failure_falls_back_to_sql_then_reports() -> None:
    fake = seeded()
    fake.fail_remove = True
    db = FakeDb(fake)
    out = io.StringIO()
    code = run_janitor(
        make_target(True),
        3600,
        out,
        client=fake,  # type: ignore[arg-type]
        db_factory=lambda: db,  # type: ignore[arg-type,return-value]
        now=NOW,
    )
    assert code == 0
    assert len(fake.objects["content-media"]) == 3
    assert db.closed

    fake = seeded()
    fake.fail_remove = True
    out = io.StringIO()
    assert run_janitor(make_target(True), 3600, out, client=fake, now=NOW) == 1  # type: ignore[arg-type]
    assert "FAILED object content-media/gate-probes/" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "janitor: local: removed 1, failed 3"
