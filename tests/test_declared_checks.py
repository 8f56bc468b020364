"""The shipped checklists and the suites agree: every automated item declares its checks, every
declared check exists and claims the item, and every gate is sound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import load_gates

REPO = Path(__file__).resolve().parent.parent

DUMP_CLAIMS = textwrap.dedent(
    """
    import json, os

    def pytest_collection_finish(session):
        claims = []
        for item in session.items:
            props = dict(item.user_properties)
            if "gate_checklist" in props:
                claims.append([props["gate_check"], props["gate_checklist"].split()])
        with open(os.environ["CLAIMS_FILE"], "w") as fh:
            json.dump(claims, fh)
    """
)


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, list[str]]]:
    """(check, item ids) of every test the suites collect, as the gate sees them."""
    folder = tmp_path_factory.mktemp("claims")
    (folder / "dump_claims.py").write_text(DUMP_CLAIMS, encoding="utf-8")
    out = folder / "claims.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "dump_claims"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(folder), "CLAIMS_FILE": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [(check, ids) for check, ids in json.loads(out.read_text(encoding="utf-8"))]


def test_every_automated_item_declares_checks() -> None:
    catalog = load_catalog(REPO / "checklists")
    undeclared = [
        i.id
        for i in catalog.items.values()
        if not i.manual and not i.checks and i.judged_by == "pytest"
    ]
    assert undeclared == []


def test_every_declared_check_exists_and_claims_its_item(
    claims: list[tuple[str, list[str]]],
) -> None:
    catalog = load_catalog(REPO / "checklists")
    missing = []
    for item in catalog.items.values():
        for check in item.checks:
            runs = [ids for c, ids in claims if c == check or c.split("[", 1)[0] == check]
            if not any(item.id in ids for ids in runs):
                missing.append(f"{item.id}: {check}")
    assert missing == []


def test_gates_are_sound() -> None:
    catalog = load_catalog(REPO / "checklists")
    gates = load_gates(catalog)
    assert {"promotion", "post_deploy", "create_flow", "full", "watch"} <= set(gates)
    judged = {i.id for i in catalog.items.values() if i.judged_by == "pytest"}
    assert set(gates["full"].requires) == judged
    watched = {i.id for i in catalog.items.values() if i.judged_by == "watch"}
    assert watched
    assert set(gates["watch"].requires) == watched
    assert all(g.judged_by == "pytest" for n, g in gates.items() if n != "watch")
    assert not any(catalog.items[i].writes for i in gates["watch"].requires)
    writing = [i for i in gates["post_deploy"].requires if catalog.items[i].writes]
    assert writing == [], "post_deploy must be provable on production without one write"
    manual = [i for i in gates["create_flow"].requires if catalog.items[i].manual]
    assert manual == [], "the engineers' gate needs no sign-off"
