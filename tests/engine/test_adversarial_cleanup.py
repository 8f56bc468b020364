"""Cleanup cannot be turned against the target (a real gateway and database: the shared sandbox).

- a deployment answering the id of someone else's row and the URL of someone else's object:
  the foreign row and object survive, the test's own are removed, the run reports it;
- the janitor and the end-of-run sweep: look-alike titles and names survive, tagged leftovers
  go only from the env's bucket and folders (another bucket's are left alone, reported), share
  positions only with their content item.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _hostile_server import HostileServer
from engine_helpers import gate_file, item_status
from test_ledger import make_target

from promorang_gate.cleanup.janitor import sweep_run, token_user
from promorang_gate.cleanup.run_history import record_run
from promorang_gate.cleanup.tags import object_tag, tagged_title
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.http import GateHttp
from promorang_gate.target.supabase_access import make_supabase


@pytest.fixture
def service(sandbox: Any) -> Iterator[Any]:
    """The sandbox's service-role client (outside the gate run under test)."""
    st = sandbox.state
    target = make_target(True, supabase_url=st.supabase_url, service_role_key=st.service_role_key)
    with GateHttp("sandbox", None, 10.0, True, Redactor(), attach=False) as http:
        yield make_supabase(target, http.client)


@pytest.fixture
def db(sandbox: Any) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(sandbox.state.database_url, autocommit=True) as conn:
        yield conn


def _row(db: Any, title: str, creator: str | None = None) -> str:
    return str(
        db.execute(
            "insert into content_items (title, creator_id) values (%s, %s) returning id",
            (title, creator),
        ).fetchone()[0]
    )


def _exists(db: Any, content_id: str) -> bool:
    return (
        db.execute("select 1 from content_items where id = %s", (content_id,)).fetchone()
        is not None
    )


def _names(service: Any, bucket: str, folder: str) -> set[str]:
    return {str(o["name"]) for o in service.storage.from_(bucket).list(folder, {"limit": 1000})}


SUITE = """
import pytest
from promorang_gate.cleanup.tags import object_tag, tagged_title


@pytest.mark.checklist("create_flow.content_crud")
def test_create(gate_api, gate_ledger, gate_supabase, gate_run_id):
    rows = gate_supabase.table("content_items")
    own = rows.insert({"title": tagged_title("own", gate_run_id)}).execute().data[0]["id"]
    gate_ledger.content(own)
    answered = gate_api.post("/api/content", json={"title": tagged_title("x", gate_run_id)})
    gate_ledger.content(answered.json()["content"]["id"])  # the id of someone else's row


@pytest.mark.checklist("create_flow.upload_image")
def test_upload(gate_api, gate_ledger, gate_supabase, gate_run_id, gate_target):
    path = f"gate-probes/{object_tag(gate_run_id)}-own.png"
    files = gate_supabase.storage.from_(gate_target.bucket)
    files.upload(path, b"own", {"content-type": "image/png"})
    gate_ledger.object(gate_target.bucket, path)
    answered = gate_api.post("/api/content/upload-image", json={"fileData": "eA=="})
    marker = f"/object/public/{gate_target.bucket}/"
    gate_ledger.object(gate_target.bucket, answered.json()["imageUrl"].split(marker, 1)[1])
"""


def test_foreign_ids_and_urls_survive_and_the_tests_own_are_removed(
    project: pytest.Pytester, sandbox: Any, service: Any, db: Any, clean_env: pytest.MonkeyPatch
) -> None:
    st = sandbox.state
    foreign_id = _row(db, "Holiday plans of a real creator")
    foreign_path = f"uploads/someone-{uuid.uuid4().hex[:8]}/holiday.png"
    service.storage.from_(st.bucket).upload(foreign_path, b"theirs", {"content-type": "image/png"})
    foreign_url = f"{st.supabase_url}/storage/v1/object/public/{st.bucket}/{foreign_path}"
    api = HostileServer(foreign_id=foreign_id, foreign_url=foreign_url)
    try:
        clean_env.setenv("GATE_LOCAL_API_URL", api.url)
        clean_env.setenv("GATE_LOCAL_FRONTEND_URL", api.url)
        clean_env.setenv("GATE_LOCAL_SUPABASE_URL", st.supabase_url)
        clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", st.service_role_key)
        clean_env.setenv("GATE_LOCAL_DATABASE_URL", st.database_url)  # the SQL fallback too
        clean_env.setenv("GATE_LOCAL_BUCKET", st.bucket)
        project.makepyfile(SUITE)
        result = project.runpytest("--env", "local", "--gate", "full", "-p", "no:cacheprovider")
    finally:
        api.stop()
    result.assert_outcomes(passed=2, errors=2)
    run_id = gate_file(project)["run_id"]
    statuses = item_status(gate_file(project))
    for item, what in (
        ("create_flow.content_crud", f"row content_items.id={foreign_id}"),
        ("create_flow.upload_image", f"object {st.bucket}/{foreign_path}"),
    ):
        status, reason = statuses[item]
        assert status == "failed"
        assert reason is not None
        assert reason.startswith("error in teardown: ")
        # Both were stored moments before the run (within the clock skew it allows): the gate
        # cannot tell whose they are, and says only that they carry no tag of this run.
        assert "do not carry this run's tag where they are stored and were left alone" in reason
        result.stdout.fnmatch_lines([f"*{what}: does not carry this run's tag, left alone: *"])
    # The foreign row and object survive ...
    assert _exists(db, foreign_id)
    assert "holiday.png" in _names(service, st.bucket, foreign_path.rsplit("/", 1)[0])
    # ... the test's own are gone.
    own = db.execute(
        "select count(*) from content_items where title = %s", (tagged_title("own", run_id),)
    )
    assert own.fetchone()[0] == 0
    assert f"{object_tag(run_id)}-own.png" not in _names(service, st.bucket, "gate-probes")
    db.execute("delete from content_items where id = %s", (foreign_id,))
    service.storage.from_(st.bucket).remove([foreign_path])


@pytest.fixture
def leftovers(sandbox: Any, service: Any, db: Any) -> Iterator[dict[str, Any]]:
    """Leftovers of a run of yesterday, look-alikes, and a second bucket the API wrote to."""
    st = sandbox.state
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y%m%dt%H%M%S")
    old = f"gr{stamp}-{uuid.uuid4().hex[:6]}"
    holder = db.execute("select id from public.users limit 1").fetchone()[0]
    rows = {
        "tagged": _row(db, tagged_title("leftover", old), token_user(st.creator_token)),
        "look_alike": _row(db, f"Investigate [gate {old}] regression"),
    }
    for content_id in rows.values():
        db.execute(
            "insert into content_share_positions (content_id, holder_id, shares_owned)"
            " values (%s, %s, 1)",
            (content_id, holder),
        )
    other = f"avatars-{uuid.uuid4().hex[:6]}"
    service.storage.create_bucket(other, options={"public": False})
    unique = uuid.uuid4()
    objects = {
        "tagged": (st.bucket, f"gate-probes/{object_tag(old)}-probe.png"),
        "uploaded": (st.bucket, f"uploads/u/2026/11/25/{unique}-{object_tag(old)}-upload.png"),
        "look_alike": (st.bucket, f"uploads/u/2026/11/25/dele{object_tag(old)}.png"),
        "other_bucket": (other, f"u/{unique}-{object_tag(old)}-avatar.png"),
        "other_untagged": (other, "u/face.png"),
    }
    for bucket, path in objects.values():
        service.storage.from_(bucket).upload(path, b"x", {"content-type": "image/png"})
    yield {"run_id": old, "rows": rows, "objects": objects, "bucket": other, "holder": holder}
    db.execute("delete from content_items where id = any(%s)", (list(rows.values()),))
    for bucket, path in objects.values():
        service.storage.from_(bucket).remove([path])
    service.storage.empty_bucket(other)
    service.storage.delete_bucket(other)


def _present(service: Any, bucket: str, path: str) -> bool:
    folder, name = path.rsplit("/", 1)
    return name in _names(service, bucket, folder)


def _assert_swept(service: Any, db: Any, leftovers: dict[str, Any]) -> None:
    rows, objects = leftovers["rows"], leftovers["objects"]
    assert not _exists(db, rows["tagged"])
    assert _exists(db, rows["look_alike"])
    positions = db.execute(
        "select content_id::text from content_share_positions where content_id = any(%s::uuid[])",
        (list(rows.values()),),
    ).fetchall()
    assert positions == [(rows["look_alike"],)]  # the tagged row's went by FK cascade
    for key in ("tagged", "uploaded"):
        assert not _present(service, *objects[key]), key
    # Another bucket is not the env's: tagged or not, what is there stays.
    for key in ("look_alike", "other_untagged", "other_bucket"):
        assert _present(service, *objects[key]), key


@pytest.mark.slow
def test_janitor_cleans_the_envs_bucket_and_spares_look_alikes(
    sandbox_state_file: Path, service: Any, db: Any, leftovers: dict[str, Any], tmp_path: Path
) -> None:
    record_run(tmp_path, "sandbox", leftovers["run_id"], "2026-01-01T00:00:00Z")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promorang_gate.cli",
            "janitor",
            "--env",
            "sandbox",
            "--sandbox-state",
            str(sandbox_state_file),
            "--older-than",
            "20h",
            "--reports",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    run_id = leftovers["run_id"]
    mine = [line for line in proc.stdout.splitlines() if run_id in line]
    assert sum(line.startswith("removed content_items ") for line in mine) == 1, proc.stdout
    assert sum(line.startswith("removed object ") for line in mine) == 2, proc.stdout
    assert any(
        line.startswith(f"left alone object {leftovers['bucket']}/")
        and "looks like ours, left alone" in line
        for line in mine
    ), proc.stdout
    assert proc.stderr == ""
    _assert_swept(service, db, leftovers)


def test_sweep_run_removes_exactly_one_run(
    sandbox: Any, service: Any, db: Any, leftovers: dict[str, Any]
) -> None:
    st = sandbox.state
    target = make_target(
        True, supabase_url=st.supabase_url, service_role_key=st.service_role_key, bucket=st.bucket
    )
    target = dataclasses.replace(target, creator_token=st.creator_token)
    result = sweep_run(target, leftovers["run_id"])
    assert len(result.removed) == 3, result
    assert [line.split(" ", 2)[1] for line in result.left_alone] == [
        f"{leftovers['bucket']}/{leftovers['objects']['other_bucket'][1]}"
    ]
    _assert_swept(service, db, leftovers)
