"""`promorang-gate verdict DIR --env E --gate watch`: a watch file counts only fresh, whole and
as shipped; an interrupted or blocked watch never exits 0."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from promorang_gate.cli import main
from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import checklists_digest, load_gates

REPO = Path(__file__).resolve().parents[2]


def _file(tmp_path: Path, **changes: Any) -> Path:
    catalog = load_catalog(REPO / "checklists")
    required = load_gates(catalog)["watch"].requires
    data: dict[str, Any] = {
        "kind": "watch",
        "env": "prod",
        "gate": "watch",
        "verdict": "allow",
        "stopped_by": "duration",
        "duration_s": 1800,
        "interval_s": 30,
        "finished_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "checklists_digest": checklists_digest(REPO / "checklists"),
        "items": [
            {"id": i, "status": "passed", "gating": catalog.items[i].gating} for i in required
        ],
    }
    data.update(changes)
    (tmp_path / "watch-prod.json").write_text(json.dumps(data))
    return tmp_path


def _verdict(directory: Path) -> int:
    args = ["verdict", str(directory), "--env", "prod", "--gate", "watch", "--rootdir", str(REPO)]
    return main(args)


def test_a_fresh_allow_as_shipped_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verdict(_file(tmp_path)) == 0
    assert "WATCH prod: ALLOW (gate watch, 1800 s every 30 s" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "code", "says"),
    [
        ({"verdict": "interrupted"}, 1, "WATCH prod: INTERRUPTED"),
        ({"finished_at": "2020-01-01T00:00:00Z"}, 5, "stale"),
        ({"checklists_digest": "sha256:other"}, 6, "other checklists"),
        ({"gate": "post_deploy"}, 6, "by gate 'post_deploy'"),
        ({"items": [{"id": "watch.error_rate", "status": "failed"}]}, 4, "malformed"),
        ({"kind": "gate"}, 4, "not a watch file"),
    ],
)
def test_anything_else_is_refused_or_blocks(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, Any],
    code: int,
    says: str,
) -> None:
    assert _verdict(_file(tmp_path, **changes)) == code
    captured = capsys.readouterr()
    assert says in captured.out + captured.err


def test_no_watch_file_exits_3(tmp_path: Path) -> None:
    assert _verdict(tmp_path) == 3


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--for", "0s"], "--for and --interval must be longer than 0 s"),
        (["--for", "1m", "--failure-limit", "0"], "--failure-limit must be 1 or more"),
        (["--for", "1m", "--gate", "full"], "gate 'full' (--gate) is judged by pytest"),
        (["--for", "soon"], "--for 'soon': expected a duration"),
    ],
)
def test_watch_usage_mistakes_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    assert main(["watch", "--env", "prod", *args, "--rootdir", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert len(err.strip().splitlines()) == 1
