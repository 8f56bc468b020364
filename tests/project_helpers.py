"""Helpers the project's tests share across folders (importable: tests/ holds a conftest.py)."""

from __future__ import annotations

import functools
import json
import shutil
import signal
from pathlib import Path
from typing import Any

import psycopg
import yaml


def sigint_interrupts() -> None:
    """``preexec_fn`` for a run a test will Ctrl-C. A shell starts background jobs with SIGINT
    ignored, children inherit that, and Python then never turns SIGINT into KeyboardInterrupt:
    a project run started in the background would hang on every Ctrl-C proof."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# GATE_<ENV>_<setting> -> the sandbox state's field that provides it.
_SANDBOX_SETTINGS = {
    "API_URL": "api_url",
    "FRONTEND_URL": "frontend_url",
    "SUPABASE_URL": "supabase_url",
    "SERVICE_ROLE_KEY": "service_role_key",
    "CREATOR_TOKEN": "creator_token",
    "OTHER_USER_TOKEN": "other_user_token",
    "DATABASE_URL": "database_url",
    "APP_REPO": "app_repo",
}
#: What every environment needs before it runs at all.
ENDPOINTS = ("API_URL", "FRONTEND_URL", "SUPABASE_URL", "SERVICE_ROLE_KEY")


def env_at_sandbox(state: Any, env: str, *settings: str) -> dict[str, str]:
    """Variables pointing ``env`` (staging, prod) at the sandbox, with exactly the ``settings``
    named: what a test leaves out is what it means to leave out."""
    return {
        f"GATE_{env.upper()}_{name}": getattr(state, _SANDBOX_SETTINGS[name]) for name in settings
    }


def copy_checklists(source: Path, target: Path) -> None:
    """The shipped checklists without their declared checks (nor what those write), so that a
    suite written by a test may claim their items with tests of its own."""
    shutil.copytree(source, target)
    for path in target.glob("*.yaml"):
        path.write_text(_without_checks(path.read_text(encoding="utf-8")), encoding="utf-8")


@functools.lru_cache(maxsize=64)
def _without_checks(text: str) -> str:
    # Parsed once per text and worker: hundreds of tests copy the same checklists.
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    for item in data.get("items", []) if isinstance(data, dict) else []:
        item.pop("checks", None)
        item.pop("writes", None)
    return str(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False))


def tagged_counts(database_url: str, run_id: str) -> tuple[int, int]:
    """(content rows, storage objects) tagged with ``run_id`` in the database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "select count(*) from public.content_items where title like %s", [f"%[gate {run_id}]"]
        ).fetchone()
        objects = conn.execute(
            "select count(*) from storage.objects where name like %s", [f"%gate-{run_id}%"]
        ).fetchone()
    assert rows is not None
    assert objects is not None
    return rows[0], objects[0]


#: The upload P95 of the baseline every fresh reports directory starts with, as CI restores
#: ``reports/history/<env>.jsonl``: its declared margin (+50 %) is the latency budget (1.5 s), so
#: ``slo.upload_no_regression`` is judged in every run and goes red with
#: ``slo.upload_latency_p95`` (tests/engine/test_baseline.py proves a first run without one).
BASELINE_P95_S = 1.0


def seeded_reports(reports: Path, env: str = "sandbox") -> Path:
    """``reports`` with an allowed run of each writing gate in its history (the baseline)."""
    from promorang_gate.decision.baseline import GATE, append_history, history_path

    latency = {"slo.upload_latency_p95": {"upload_latency": {"p95_s": BASELINE_P95_S}}}
    for gate in ("full", "promotion", "create_flow"):
        record = {"kind": GATE, "at": "2026-01-01T00:00:00Z", "env": env, "gate": gate}
        record |= {"verdict": "allow", "run_id": "seeded", "items": latency, "failed": []}
        append_history(history_path(reports, env), record)
    return reports


class DictCache:
    """pytest's ``config.cache`` as far as the contract runner uses it, JSON round trip
    included."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str, default: Any) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: object) -> None:
        self.values[key] = json.dumps(value)
