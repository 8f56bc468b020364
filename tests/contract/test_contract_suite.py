"""The contract suite against the session's sandbox: the read-only run as a subprocess, exactly
as CI runs it; proofs that need no process of their own in this worker's (``run_gate_inprocess``).

The healthy run and the contract faults are rows of tests/suites/test_fault_matrix.py.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from project_helpers import ENDPOINTS, env_at_sandbox
from promorang_gate.cleanup.tags import RUN_ID_PATTERN, png_run_id
from promorang_gate.contract.spec import DocumentedPaths, load_spec, spec_operations

REPO_ROOT = Path(__file__).resolve().parents[2]
ITEMS = {
    "contract.get_health",
    "contract.upload_image",
    "contract.list_content",
    "contract.create_content",
    "contract.get_content",
    "contract.update_content",
    "contract.delete_content",
}


@pytest.mark.usefixtures("listed_content")
@pytest.mark.slow  # a gate run in a subprocess
def test_read_only_env_sends_only_documented_reads(run_gate: Any, sandbox: Any) -> None:
    state = sandbox.state
    # The creator's token: the platform's reads need it (reads_need_auth), prod's too.
    env = env_at_sandbox(state, "prod", *ENDPOINTS, "CREATOR_TOKEN")
    sandbox.clear_requests()
    run = run_gate(["contract", "--env", "prod"], env=env)
    sent = [r for r in sandbox.requests() if r["service"] == "api"]
    documented = DocumentedPaths(spec_operations(load_spec(REPO_ROOT / "contract/openapi.yaml")))
    assert sent, run.output
    offending = [r for r in sent if not documented.allows(r["method"], r["path"])]
    assert {r["method"] for r in sent} <= {"GET", "HEAD"}, sent
    assert offending == []
    # post_deploy requires the read-only operations; the writing ones ran out of its scope.
    data = run.gate("prod")
    judged = [*run.items("prod").values(), *data["out_of_scope"]]
    statuses = {item["id"]: item["status"] for item in judged if item["id"] in ITEMS}
    assert statuses["contract.get_health"] == statuses["contract.list_content"] == "passed"
    assert {i for i, s in statuses.items() if s == "not_verified"} == ITEMS - {
        "contract.get_health",
        "contract.list_content",
    }
    refused = [i for i in judged if i["id"] in ITEMS and i["status"] == "not_verified"]
    assert refused
    assert all("writes not allowed on prod" in (i["reason"] or "") for i in refused), refused


@pytest.mark.slow
def test_collection_does_not_import_schemathesis(sandbox_state_file: Path) -> None:
    probe = (
        "import sys, pytest\n"
        "rc = pytest.main(sys.argv[1:])\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('schemathesis', 'hypothesis'))\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n"
    )
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "create_flow", "smoke"]
    args += ["contract", f"--sandbox-state={sandbox_state_file}"]
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_contract.py::test_operation_conforms" in done.stdout
    assert "HEAVY []" in done.stdout, done.stdout


@pytest.mark.slow  # a whole gate run
def test_contract_drift_reasons_name_the_missing_field(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    """The item's reason is the violation, not a summary: it names the drifted field."""
    sandbox.set_faults(["contract_drift"])
    try:
        run = run_gate_inprocess(["contract", "-k", "conforms or lifecycle"])
    finally:
        sandbox.set_faults([])
    failed = {i: item for i, item in run.items().items() if item["status"] == "failed"}
    assert set(failed) == {
        "contract.list_content",
        "contract.create_content",
        "contract.get_content",
        "contract.update_content",
    }, run.output
    for item in failed.values():
        assert "available_shares" in item["reason"], item


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _sent_writes(sandbox: Any) -> list[tuple[str, str, str]]:
    """The writes the API received, with run ids and item ids made comparable across runs (in
    a PNG's bytes too: the run tag is in its tEXt chunk)."""

    def png(match: re.Match[str]) -> str:
        data = base64.b64decode(match.group(1))
        return f'"fileData": "<png tagged {png_run_id(data) and "<run>"}>"'

    def same(text: str) -> str:
        text = re.sub(r'"fileData": "(iVBOR[A-Za-z0-9+/=]*)"', png, text)
        return UUID.sub("<uuid>", re.sub(RUN_ID_PATTERN, "<run>", text))

    return [
        (r["method"], same(r["path"]), same(r["body"]))
        for r in sandbox.requests()
        if r["service"] == "api" and r["method"] != "GET"
    ]


# In one process the second run's cases come from the first's (cases.py keeps them per schema):
# its requests must be the same, with its own run's tags.
@pytest.mark.slow  # gate runs
@pytest.mark.parametrize("runner", ["run_gate", "run_gate_inprocess"], ids=["processes", "one"])
def test_invalid_cases_are_the_same_on_every_run(
    request: pytest.FixtureRequest, sandbox: Any, runner: str
) -> None:
    run_gate = request.getfixturevalue(runner)
    sent = []
    for _ in range(2):
        sandbox.clear_requests()
        run = run_gate(["contract", "-k", "test_invalid_input_is_refused"])
        assert not run.failed_items(), run.output
        sent.append(_sent_writes(sandbox))
    assert sent[0] == sent[1]
    if runner == "run_gate_inprocess":
        from promorang_gate.contract import cases

        assert cases._COVERAGE  # kept in this process: the second run's cases were the first's
    bodies = [body for _, _, body in sent[0]]
    assert len(bodies) > 100
    assert any('"fileType": "text/html"' in b for b in bodies)
    assert any('"total_shares": 1.5' in b for b in bodies)
    assert any('"title": false' in b for b in bodies)
    # Where a case replaces the field that carries the run tag, the tag is in another field the
    # case leaves alone, so that what a lax build stores is still provably the run's (builds B
    # and H stored these): a title that is no string -> the description; a file name that is
    # no string -> the PNG's bytes. The cases are otherwise those pinned before.
    assert any(
        '"title": [null, null]' in b and '"description": "[gate <run>]"' in b for b in bodies
    )
    assert any('"fileName": false' in b and "<png tagged <run>>" in b for b in bodies)
    assert not any("<png tagged None>" in b for b in bodies)


@pytest.mark.slow  # a whole gate run
def test_malformed_id_writes_cannot_reach_an_integer_keyed_row(
    run_gate_inprocess: Any, sandbox: Any
) -> None:
    """A legacy content_pieces table would update or delete its row 123 (CONTRACT.md 3.8):
    PUT and DELETE are probed only with ids no row can carry; GET may use any."""
    sandbox.clear_requests()
    run = run_gate_inprocess(["contract", "-k", "test_malformed_id_is_refused"])
    assert not run.failed_items(), run.output
    probed = [path.rsplit("/", 1)[1] for _, path, _ in _sent_writes(sandbox)]
    assert {"abc", "not-a-uuid"} <= set(probed), probed
    assert not [ident for ident in probed if ident.lstrip("-").isdigit()], probed
    reads = [r["path"] for r in sandbox.requests() if r["method"] == "GET"]
    assert "/api/content/0" in reads
