"""The gate's record of its runs per env (``.gate-runs-<env>.jsonl`` in the reports directory):
written when a run starts testing, read by the janitor, which removes only what a recorded run
tagged (a well-formed tag alone proves nothing: anyone can type one)."""

from __future__ import annotations

import json
from pathlib import Path

from promorang_gate.cleanup import tags

__all__ = ["history_file", "record_run", "recorded_runs"]

#: The newest runs kept in mind (the file is read from its end).
MAX_RUNS = 10_000
_MAX_BYTES = 4 * 1024 * 1024


def history_file(directory: Path, env: str) -> Path:
    return directory / f".gate-runs-{env}.jsonl"


def record_run(directory: Path, env: str, run_id: str, started_at: str) -> Path:
    path = history_file(directory, env)
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps({"run_id": run_id, "started_at": started_at}) + "\n")
    return path


def recorded_runs(directory: Path, env: str) -> set[str]:
    """Run ids recorded for ``env`` (empty when there is no record)."""
    path = history_file(directory, env)
    try:
        with path.open("rb") as stream:
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(0, size - _MAX_BYTES))
            lines = stream.read().decode("utf-8", errors="replace").splitlines()[-MAX_RUNS:]
    except OSError:
        return set()
    runs: set[str] = set()
    for line in lines:
        try:
            run_id = json.loads(line).get("run_id")
        except (ValueError, AttributeError, RecursionError):
            continue
        if isinstance(run_id, str) and tags.is_run_id(run_id):
            runs.add(run_id)
    return runs
