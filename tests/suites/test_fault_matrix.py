"""The proof of the gate: the healthy sandbox is allowed, and every named fault blocks the
verdict on exactly the checklist items it breaks — no more, no fewer.

How the rows run: each xdist worker has one sandbox (the session's ``sandbox``), and a row
switches its fault on at runtime (``PUT /__sandbox/faults``) and off again in ``finally``. A
worker runs one row at a time, so two rows never share a sandbox's fault state; xdist's
worksteal spreads the rows over the workers. Each row's gate run is in-process
(``run_gate_inprocess``): imports and the contract's schema are paid once per worker. A fault
that cannot be switched at runtime gets a sandbox of its own: the frontend's relative mode is
chosen when the sandbox starts (its bundle is built for it), so RELATIVE_FAULT_MATRIX runs
against ``relative_sandbox``. A new row costs one gate run and a line in the tables."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Every row runs the whole default gate (`pytest`: gate full, every check) against the sandbox
# with one fault: it must fail exactly these items, and leave unverified exactly the second set
# (almost always none).
FULL: tuple[str, ...] = ()
UPLOAD_FAILS = {"create_flow.upload_image", "slo.upload_failure_rate"}
FAULT_MATRIX: dict[str, tuple[set[str], set[str]]] = {
    "health_down": ({"health.api", "contract.get_health"}, set()),
    "health_slow": ({"health.api", "contract.get_health"}, set()),
    "upload_fallback": (UPLOAD_FAILS, set()),
    "upload_500": (
        {*UPLOAD_FAILS, "contract.upload_image", "create_flow.frontend_wired"},
        set(),
    ),
    # Slower than the budget, and than the baseline's P95 (1.0 s, conftest.BASELINE_P95_S) by
    # more than its margin: the regression item goes red with the latency item.
    "upload_slow": ({"slo.upload_latency_p95", "slo.upload_no_regression"}, set()),
    "upload_private_url": ({"create_flow.upload_image"}, set()),
    "upload_path_mismatch": ({"create_flow.upload_image"}, set()),
    "bucket_missing": (
        {*UPLOAD_FAILS, "create_flow.bucket_exists", "create_flow.service_role_storage"},
        set(),
    ),
    "bucket_private": ({"create_flow.bucket_exists", "create_flow.upload_image"}, set()),
    "storage_insert_denied": ({*UPLOAD_FAILS, "create_flow.service_role_storage"}, set()),
    "storage_read_denied": ({"create_flow.service_role_storage"}, set()),
    "mint_skipped": ({"create_flow.share_positions"}, set()),
    "mint_wrong_shares": ({"create_flow.share_positions"}, set()),
    "mint_duplicated": ({"create_flow.share_positions"}, set()),
    "positions_table_missing": (
        {"create_flow.share_positions", "growth_hub.migrations_applied"},
        set(),
    ),
    "migration_not_applied": ({"growth_hub.migrations_applied"}, set()),
    "migration_drifted": ({"growth_hub.migrations_applied"}, set()),
    "update_not_persisted": ({"create_flow.content_crud", "contract.update_content"}, set()),
    "delete_noop": (
        {
            "create_flow.content_crud",
            "contract.delete_content",
            "contract.get_content",
            "contract.update_content",
        },
        set(),
    ),
    "cors_missing": ({"create_flow.frontend_wired", "health.frontend"}, set()),
    "frontend_down": ({"create_flow.frontend_wired", "health.frontend"}, set()),
    "frontend_wrong_api": ({"create_flow.frontend_wired", "health.frontend"}, set()),
    "frontend_reads_wrong_id": ({"create_flow.frontend_wired"}, set()),
    "frontend_price_override": ({"create_flow.frontend_wired"}, set()),
    "growth_hub_api_missing": ({"health.frontend"}, set()),
    "contract_drift": (
        {"contract.create_content", "contract.get_content", "contract.update_content"}
        | {"contract.list_content"},
        set(),
    ),
    "bad_input_500": ({"contract.upload_image", "contract.create_content"}, set()),
    # Contract semantics no schema can express (docs/traps.md).
    "list_ignores_limit": ({"contract.list_content"}, set()),
    "roundtrip_price": ({"contract.get_content"}, set()),
    "roundtrip_platform_url": ({"contract.get_content"}, set()),
    "delete_missing_200": ({"contract.delete_content"}, set()),
    "put_missing_500": ({"contract.update_content"}, set()),
    "accepts_wrong_types": ({"contract.create_content", "contract.upload_image"}, set()),
    "upload_accepts_html": ({"contract.upload_image"}, set()),
    "bad_id_500": (
        {"contract.get_content", "contract.update_content", "contract.delete_content"},
        set(),
    ),
    # Who may write (checklists/security.yaml).
    "auth_unverified": ({"security.unsigned_token_refused"}, set()),
    "auth_demo_bypass": ({"security.demo_bypass_refused"}, set()),
    "no_ownership_check": ({"security.ownership_enforced"}, set()),
    # The platform's newest build (H), docs/traps.md section H.
    "reads_need_no_auth": ({"contract.list_content", "contract.get_content"}, set()),
    "demo_login_open": ({"security.demo_login_closed"}, set()),
    "cors_reflects_vercel_app": ({"security.cors_credentials_closed"}, set()),
    "frontend_lazy_chunk_wrong_api": ({"create_flow.frontend_wired"}, set()),
    "create_redirects_to_undefined": ({"create_flow.frontend_wired"}, set()),
    # Every create answers 500 after committing its row (the run still leaves none behind).
    "create_500_after_commit": (
        {"create_flow.content_crud", "create_flow.share_positions", "create_flow.frontend_wired"}
        | {"contract.create_content"},
        {"contract.get_content", "contract.update_content", "contract.delete_content"}
        | {"contract.list_content"},
    ),
    # The API without its Supabase variables (§6.1): nearly everything that writes breaks,
    # authentication included (mock auth lets any token through).
    "mock_mode": (
        {*UPLOAD_FAILS, "create_flow.content_crud", "create_flow.share_positions"}
        | {"create_flow.frontend_wired"}
        | {f"contract.{op}" for op in ("upload_image", "list_content", "create_content")}
        | {f"contract.{op}" for op in ("get_content", "update_content", "delete_content")}
        | {"security.unsigned_token_refused", "security.demo_bypass_refused"}
        | {"security.ownership_enforced"},
        set(),
    ),
    # Every create answers 500: what needs a created item fails, or cannot be verified (paging
    # too: with nothing created, the empty listing has no pages to compare). The security items
    # still run: their item is written with the service role, not through the API's create.
    "uuid_default_dropped": (
        {"create_flow.content_crud", "create_flow.share_positions", "create_flow.frontend_wired"}
        | {"contract.create_content"},
        {"contract.get_content", "contract.update_content", "contract.delete_content"}
        | {"contract.list_content"},
    ),
    # The Stripe webhook (checklists/webhooks.yaml; CONTRACT.md §8, §6.19).
    "webhook_accepts_unsigned": ({"webhooks.unsigned_refused"}, set()),
    "webhook_wrong_secret_name": ({"webhooks.signed_event_accepted"}, set()),
    "webhook_parses_before_verifying": (
        {"webhooks.altered_body_refused", "webhooks.signed_event_accepted"},
        set(),
    ),
    "webhook_500_on_bad_signature": (
        {"webhooks.unsigned_refused", "webhooks.wrong_secret_refused"}
        | {"webhooks.stale_timestamp_refused", "webhooks.altered_body_refused"},
        set(),
    ),
    "webhook_no_timestamp_tolerance": ({"webhooks.stale_timestamp_refused"}, set()),
    # What is deployed (checklists/release.yaml).
    "stale_deployment": ({"release.identity"}, set()),
}

# Rows whose reason is the point (docs/traps.md): the run's output must state it.
FAULT_REASONS: dict[str, str] = {
    "create_redirects_to_undefined": "the form navigated to /content/undefined, a page for an id"
    " that is not the created item's",
}

# Faults of a frontend that calls relative /api, proved against a sandbox in that mode
# (`relative_sandbox`); under them the shared, absolute-mode sandbox stays green.
RELATIVE_FAULT_MATRIX: dict[str, tuple[set[str], set[str]]] = {
    "frontend_api_unrouted": ({"create_flow.frontend_wired", "health.frontend"}, set()),
}

# Faults that break only what the smoke suite checks: the contract must stay green under them
# (their rows show it: no contract item among what they fail or leave unverified).
CONTRACT_HOLDS_UNDER = ("mint_skipped", "frontend_wrong_api", "cors_missing", "bucket_private")

pytestmark = pytest.mark.slow


@pytest.fixture
def run_gate(run_gate_inprocess: Any) -> Any:
    """Every row's gate run in this worker's process (tests/conftest.py, run_gate_inprocess):
    the imports and the contract's schema are paid once per worker, not once per row."""
    return run_gate_inprocess


def test_matrix_names_every_sandbox_fault() -> None:
    from promorang_sandbox import FAULTS
    from promorang_sandbox.faults import WATCH_FAULTS

    # Faults that appear only after a while are the watch's (tests/watch/test_watch_faults.py).
    assert set(FAULT_MATRIX) | set(RELATIVE_FAULT_MATRIX) | set(WATCH_FAULTS) == set(FAULTS)


@pytest.mark.parametrize("suite", [FULL, ("-m", "create_flow")], ids=["full", "create_flow"])
def test_healthy_sandbox_is_allowed(sandbox: Any, run_gate: Any, suite: tuple[str, ...]) -> None:
    sandbox.set_faults([])
    run = run_gate(suite)
    assert run.returncode == 0, run.output
    assert run.gate()["verdict"] == "allow", run.output
    assert run.elapsed_s < 60, f"{suite} took {run.elapsed_s:.1f}s against the sandbox"
    statuses = {item["status"] for item in run.items().values()}
    assert statuses <= {"passed", "manual_signed"}, statuses


def _assert_blocks_exactly(run: Any, fault: str, failed: set[str], unverified: set[str]) -> None:
    assert run.returncode != 0, run.output
    assert run.gate()["verdict"] == "block", run.output
    assert run.failed_items() == failed, f"under {fault}:\n{run.output}"
    left = {i for i, it in run.items().items() if it["status"] == "not_verified"}
    assert left == unverified, f"items left unverified under {fault}: {left}\n{run.output}"


@pytest.mark.parametrize("fault", sorted(FAULT_MATRIX))
def test_fault_blocks_on_exactly_its_items(sandbox: Any, run_gate: Any, fault: str) -> None:
    sandbox.set_faults([fault])
    try:
        run = run_gate(FULL)
    finally:
        sandbox.set_faults([])
    _assert_blocks_exactly(run, fault, *FAULT_MATRIX[fault])
    if fault in FAULT_REASONS:
        assert FAULT_REASONS[fault] in run.output, f"under {fault}, not its reason:\n{run.output}"


def test_contract_stays_green_under_smoke_only_faults() -> None:
    """Proved by these faults' rows, not by runs of their own: a row fails exactly its items
    and leaves nothing unverified, so under each of these faults every contract item passed in
    the row's whole run (a run of ``contract`` alone under them proved nothing more)."""
    for fault in CONTRACT_HOLDS_UNDER:
        failed, unverified = FAULT_MATRIX[fault]
        assert not {i for i in failed | unverified if i.startswith("contract.")}, fault


def test_healthy_relative_sandbox_is_allowed(run_gate: Any, relative_sandbox_env: Any) -> None:
    """The frontend calling relative /api through its host passes, browser check included."""
    run = run_gate(FULL, env=relative_sandbox_env)
    assert run.returncode == 0, run.output
    assert run.gate()["verdict"] == "allow", run.output
    assert run.items()["create_flow.frontend_wired"]["status"] == "passed"


@pytest.mark.parametrize("fault", sorted(RELATIVE_FAULT_MATRIX))
def test_relative_fault_blocks_on_exactly_its_items(
    relative_sandbox: Any, relative_sandbox_env: Any, run_gate: Any, fault: str
) -> None:
    relative_sandbox.set_faults([fault])
    try:
        run = run_gate(FULL, env=relative_sandbox_env)
    finally:
        relative_sandbox.set_faults([])
    _assert_blocks_exactly(run, fault, *RELATIVE_FAULT_MATRIX[fault])


def test_relative_frontend_needs_no_cors(
    relative_sandbox: Any, relative_sandbox_env: Any, run_gate: Any
) -> None:
    """Same-origin calls through the host's rewrite: an API without CORS is no defect then."""
    relative_sandbox.set_faults(["cors_missing"])
    try:
        run = run_gate(FULL, env=relative_sandbox_env)
    finally:
        relative_sandbox.set_faults([])
    assert run.gate()["verdict"] == "allow", run.output


# --- docs/traps.md: every trap of CONTRACT.md §6 and the fault that proves the gate catches it ---

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAPS_TABLE = REPO_ROOT / "docs" / "traps.md"


STATES = ("ready", "ready (repository)", "ready (relative frontend)")


@dataclass(frozen=True)
class TrapRow:
    section: str
    fault: str | None
    items: tuple[str, ...]
    tests: tuple[str, ...]
    state: str


def _trap_rows() -> list[TrapRow]:
    rows = []
    for line in TRAPS_TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not re.fullmatch(r"(6|H)\.\d+", cells[0]):
            continue
        faults = re.findall(r"`([^`]+)`", cells[2])
        rows.append(
            TrapRow(
                section=cells[0],
                fault=faults[0] if faults else None,
                items=tuple(re.findall(r"`([^`]+)`", cells[3])),
                tests=tuple(re.findall(r"`([^`]+)`", cells[4])),
                state=cells[5],
            )
        )
    return rows


TRAP_ROWS = _trap_rows()


def test_traps_table_covers_every_trap_of_the_contract() -> None:
    sections = {row.section for row in TRAP_ROWS if row.section.startswith("6.")}
    assert sections == {f"6.{n}" for n in range(1, 21)}
    for row in TRAP_ROWS:
        if row.state.startswith("not gated: "):
            assert len(row.state) > len("not gated: ") + 20, f"§{row.section} must say why"
            continue
        assert row.state in STATES, row
        assert row.items, f"§{row.section}: which item goes red"
        assert row.tests, f"§{row.section}: which test"
        repository = row.state == "ready (repository)"
        assert (row.fault is None) == repository, f"§{row.section}: fault or repository proof"


@pytest.mark.parametrize(
    "row",
    [r for r in TRAP_ROWS if r.fault],
    ids=[f"{r.section}-{r.fault}" for r in TRAP_ROWS if r.fault],
)
def test_trap_fault_blocks_on_its_item_in_the_matrix(row: TrapRow) -> None:
    from promorang_sandbox import FAULTS

    assert row.fault in FAULTS, f"§{row.section}: {row.fault} is no sandbox fault"
    matrix = RELATIVE_FAULT_MATRIX if row.state == "ready (relative frontend)" else FAULT_MATRIX
    assert row.fault in matrix, f"§{row.section}: {row.fault} has no fault-matrix row"
    failing = matrix[row.fault][0]
    assert set(row.items) <= failing, (
        f"§{row.section}: under {row.fault} the matrix fails {sorted(failing)}, "
        f"not {sorted(set(row.items) - failing)}"
    )


@pytest.mark.parametrize("row", TRAP_ROWS, ids=lambda r: r.section)
def test_trap_tests_exist(row: TrapRow) -> None:
    for test in row.tests:
        path, _, name = test.partition("::")
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"§{row.section}: {test} does not exist"


# --- docs/faults.md: the watch's faults, each with the item it breaches and its proof ---

FAULTS_DOC = REPO_ROOT / "docs" / "faults.md"
WATCH_PROOFS = REPO_ROOT / "tests" / "watch" / "test_watch_faults.py"


def _watch_fault_rows() -> dict[str, tuple[str, str]]:
    """fault -> (item, test) of the table under "the watch's matrix" in docs/faults.md."""
    text = FAULTS_DOC.read_text(encoding="utf-8").split("## Faults that appear only after")[1]
    rows = {}
    for line in text.splitlines():
        cells = [re.findall(r"`([^`]+)`", c) for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and all(len(c) == 1 for c in cells):
            rows[cells[0][0]] = (cells[1][0], cells[2][0])
    return rows


def _watch_fault_items() -> dict[str, str]:
    """``WATCH_FAULT_ITEMS`` as test_watch_faults.py writes it (read, not imported: no run)."""
    tree = ast.parse(WATCH_PROOFS.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "WATCH_FAULT_ITEMS":
            value: dict[str, str] = ast.literal_eval(node.value)
            return value
    raise AssertionError(f"{WATCH_PROOFS} defines no WATCH_FAULT_ITEMS")


def test_watch_fault_table_matches_the_watch_proofs() -> None:
    from promorang_gate.decision.checklists import load_catalog
    from promorang_sandbox.faults import WATCH_FAULTS

    rows = _watch_fault_rows()
    assert {fault: item for fault, (item, _) in rows.items()} == _watch_fault_items()
    assert set(rows) == set(WATCH_FAULTS)
    catalog = load_catalog(REPO_ROOT / "checklists")
    source = WATCH_PROOFS.read_text(encoding="utf-8")
    for fault, (item, test) in rows.items():
        assert catalog.items[item].judged_by == "watch", f"{fault}: {item} is no watch item"
        path, _, name = test.partition("::")
        assert REPO_ROOT / path == WATCH_PROOFS, f"{fault}: proved in {path}?"
        assert f"def {name}(" in source, f"{fault}: {test} does not exist"
