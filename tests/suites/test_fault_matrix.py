"""The proof of the gate: the healthy sandbox is allowed, and every named fault blocks the
verdict on exactly the checklist items it breaks — no more, no fewer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Every row runs the whole default gate (`pytest`, gate full): a fault must fail exactly its
# items and leave nothing else unverified.
FULL: tuple[str, ...] = ()
SMOKE = FULL
CONTRACT = FULL
SECURITY = FULL
LEDGER = FULL

# fault -> (suites run, the exact set of failed checklist items)
FAULT_MATRIX: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "health_down": (SMOKE, frozenset({"health.api"})),
    "health_slow": (SMOKE, frozenset({"health.api"})),
    "upload_fallback": (SMOKE, frozenset({"create_flow.upload_image", "slo.upload_failure_rate"})),
    # The Create form's upload answers 500 in the browser too: the user cannot create.
    "upload_500": (
        SMOKE,
        frozenset(
            {"create_flow.upload_image", "slo.upload_failure_rate", "create_flow.frontend_wired"}
        ),
    ),
    "upload_slow": (SMOKE, frozenset({"slo.upload_latency_p95"})),
    "upload_private_url": (SMOKE, frozenset({"create_flow.upload_image"})),
    "bucket_missing": (
        SMOKE,
        frozenset(
            {
                "create_flow.bucket_exists",
                "create_flow.service_role_storage",
                "create_flow.upload_image",
                "slo.upload_failure_rate",
            }
        ),
    ),
    "bucket_private": (SMOKE, frozenset({"create_flow.bucket_exists", "create_flow.upload_image"})),
    "storage_insert_denied": (
        SMOKE,
        frozenset(
            {
                "create_flow.service_role_storage",
                "create_flow.upload_image",
                "slo.upload_failure_rate",
            }
        ),
    ),
    "storage_read_denied": (SMOKE, frozenset({"create_flow.service_role_storage"})),
    "mint_skipped": (SMOKE, frozenset({"create_flow.share_positions"})),
    "mint_wrong_shares": (SMOKE, frozenset({"create_flow.share_positions"})),
    "mint_duplicated": (SMOKE, frozenset({"create_flow.share_positions"})),
    "positions_table_missing": (SMOKE, frozenset({"create_flow.share_positions"})),
    "update_not_persisted": (SMOKE, frozenset({"create_flow.content_crud"})),
    "delete_noop": (SMOKE, frozenset({"create_flow.content_crud"})),
    # The Growth Hub calls the API with the same bundle: it cannot load its data either.
    "cors_missing": (SMOKE, frozenset({"create_flow.frontend_wired", "health.frontend"})),
    "frontend_down": (SMOKE, frozenset({"health.frontend", "create_flow.frontend_wired"})),
    "frontend_wrong_api": (SMOKE, frozenset({"create_flow.frontend_wired", "health.frontend"})),
    "frontend_reads_wrong_id": (SMOKE, frozenset({"create_flow.frontend_wired"})),
    "frontend_price_override": (SMOKE, frozenset({"create_flow.frontend_wired"})),
    "growth_hub_api_missing": (SMOKE, frozenset({"health.frontend"})),
    "contract_drift": (
        CONTRACT,
        frozenset(
            {
                "contract.create_content",
                "contract.get_content",
                "contract.update_content",
                "contract.list_content",
            }
        ),
    ),
    "bad_input_500": (CONTRACT, frozenset({"contract.upload_image", "contract.create_content"})),
    "migration_not_applied": (LEDGER, frozenset({"growth_hub.migrations_applied"})),
    "migration_drifted": (LEDGER, frozenset({"growth_hub.migrations_applied"})),
    # Contract semantics no schema can express (docs/traps.md).
    "list_ignores_limit": (CONTRACT, frozenset({"contract.list_content"})),
    "roundtrip_price": (CONTRACT, frozenset({"contract.get_content"})),
    "roundtrip_platform_url": (CONTRACT, frozenset({"contract.get_content"})),
    "delete_missing_200": (CONTRACT, frozenset({"contract.delete_content"})),
    "put_missing_500": (CONTRACT, frozenset({"contract.update_content"})),
    "accepts_wrong_types": (CONTRACT, frozenset({"contract.create_content"})),
    "upload_accepts_html": (CONTRACT, frozenset({"contract.upload_image"})),
    "bad_id_500": (
        CONTRACT,
        frozenset({"contract.get_content", "contract.update_content", "contract.delete_content"}),
    ),
    # Who may write (checklists/security.yaml).
    "auth_unverified": (SECURITY, frozenset({"security.unsigned_token_refused"})),
    "auth_demo_bypass": (SECURITY, frozenset({"security.demo_bypass_refused"})),
    "no_ownership_check": (SECURITY, frozenset({"security.ownership_enforced"})),
    "mock_mode": (
        SMOKE,
        frozenset(
            {
                "create_flow.upload_image",
                "create_flow.content_crud",
                "create_flow.share_positions",
                "slo.upload_failure_rate",
            }
        ),
    ),
    "uuid_default_dropped": (
        SMOKE,
        frozenset({"create_flow.content_crud", "create_flow.share_positions"}),
    ),
}

# Faults of a frontend that calls relative /api, proved against a sandbox in that mode
# (`relative_sandbox`); under them the shared, absolute-mode sandbox stays green.
RELATIVE_FAULT_MATRIX: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "frontend_api_unrouted": (SMOKE, frozenset({"create_flow.frontend_wired", "health.frontend"})),
}

# Faults that break only what the smoke suite checks: the contract must stay green under them.
CONTRACT_HOLDS_UNDER = ("mint_skipped", "frontend_wrong_api", "cors_missing", "bucket_private")

pytestmark = pytest.mark.slow


def test_matrix_names_every_sandbox_fault() -> None:
    from promorang_sandbox import FAULTS

    assert set(FAULT_MATRIX) | set(RELATIVE_FAULT_MATRIX) == set(FAULTS)


@pytest.mark.parametrize("suite", [FULL, ("-m", "create_flow")], ids=["full", "create_flow"])
def test_healthy_sandbox_is_allowed(sandbox: Any, run_gate: Any, suite: tuple[str, ...]) -> None:
    sandbox.set_faults([])
    run = run_gate(suite)
    assert run.returncode == 0, run.output
    assert run.gate()["verdict"] == "allow", run.output
    assert run.elapsed_s < 60, f"{suite} took {run.elapsed_s:.1f}s against the sandbox"
    statuses = {item["status"] for item in run.items().values()}
    assert statuses <= {"passed", "manual_signed"}, statuses


@pytest.mark.parametrize("fault", sorted(FAULT_MATRIX))
def test_fault_blocks_on_exactly_its_items(sandbox: Any, run_gate: Any, fault: str) -> None:
    suites, expected = FAULT_MATRIX[fault]
    sandbox.set_faults([fault])
    try:
        run = run_gate(suites)
    finally:
        sandbox.set_faults([])
    assert run.returncode != 0, run.output
    assert run.gate()["verdict"] == "block"
    assert run.failed_items() == expected, run.output
    not_verified = {i for i, it in run.items().items() if it["status"] == "not_verified"}
    assert not not_verified, f"items left unverified under {fault}: {not_verified}"


@pytest.mark.parametrize("fault", CONTRACT_HOLDS_UNDER)
def test_contract_stays_green_under_smoke_only_faults(
    sandbox: Any, run_gate: Any, fault: str
) -> None:
    sandbox.set_faults([fault])
    try:
        run = run_gate(("contract",))
    finally:
        sandbox.set_faults([])
    contract = {i: it for i, it in run.items().items() if i.startswith("contract.")}
    assert {it["status"] for it in contract.values()} == {"passed"}, run.output


def test_growth_hub_migration_check_catches_a_missing_migration(
    sandbox: Any, run_gate: Any
) -> None:
    """The Growth Hub migration item: the positions migration missing from the history."""
    sandbox.set_faults(["positions_table_missing"])
    try:
        run = run_gate(FULL)
    finally:
        sandbox.set_faults([])
    assert run.gate()["verdict"] == "block"
    assert run.failed_items() == {"growth_hub.migrations_applied"}, run.output


# --- docs/traps.md: every trap of CONTRACT.md §6 and the fault that proves the gate catches it ---

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAPS_TABLE = REPO_ROOT / "docs" / "traps.md"


@dataclass(frozen=True)
class TrapRow:
    section: str
    fault: str | None
    items: tuple[str, ...]
    tests: tuple[str, ...]
    state: str

    @property
    def pending(self) -> bool:
        return self.state.startswith("pending")


def _trap_rows() -> list[TrapRow]:
    rows = []
    for line in TRAPS_TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not re.fullmatch(r"6\.\d+", cells[0]):
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
    assert {row.section for row in TRAP_ROWS} == {f"6.{n}" for n in range(1, 21)}
    for row in TRAP_ROWS:
        assert row.state == "ready" or row.pending or row.state.startswith("not gated: "), row
        if row.fault is None and not row.pending:
            assert len(row.state) > len("not gated: ") + 20, f"§{row.section} must say why"


@pytest.mark.parametrize(
    "row",
    [r for r in TRAP_ROWS if r.fault],
    ids=[f"{r.section}-{r.fault}" for r in TRAP_ROWS if r.fault],
)
def test_trap_fault_blocks_on_its_item_in_the_matrix(row: TrapRow) -> None:
    from promorang_sandbox import FAULTS

    assert row.fault is not None
    if row.pending and row.fault not in FAULTS:
        pytest.skip(f"{row.fault} is not a sandbox fault yet (pending)")
    assert row.fault in FAULTS, f"§{row.section}: {row.fault} is no sandbox fault"
    assert row.fault in FAULT_MATRIX, f"§{row.section}: {row.fault} has no fault-matrix row"
    failing = FAULT_MATRIX[row.fault][1]
    assert set(row.items) <= failing, (
        f"§{row.section}: under {row.fault} the matrix fails {sorted(failing)}, "
        f"not {sorted(set(row.items) - failing)}"
    )


@pytest.mark.parametrize("row", [r for r in TRAP_ROWS if not r.pending], ids=lambda r: r.section)
def test_trap_tests_exist(row: TrapRow) -> None:
    for test in row.tests:
        path, _, name = test.partition("::")
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"§{row.section}: {test} does not exist"


def test_healthy_relative_sandbox_is_allowed(run_gate: Any, relative_sandbox_env: Any) -> None:
    """The frontend calling relative /api through its host passes, browser check included."""
    run = run_gate(SMOKE, env=relative_sandbox_env)
    assert run.returncode == 0, run.output
    assert run.gate()["verdict"] == "allow", run.output
    assert run.items()["create_flow.frontend_wired"]["status"] == "passed"


@pytest.mark.parametrize("fault", sorted(RELATIVE_FAULT_MATRIX))
def test_relative_fault_blocks_on_exactly_its_items(
    relative_sandbox: Any, relative_sandbox_env: Any, run_gate: Any, fault: str
) -> None:
    suites, expected = RELATIVE_FAULT_MATRIX[fault]
    relative_sandbox.set_faults([fault])
    try:
        run = run_gate(suites, env=relative_sandbox_env)
    finally:
        relative_sandbox.set_faults([])
    assert run.gate()["verdict"] == "block", run.output
    assert run.failed_items() == expected, run.output


def test_relative_frontend_needs_no_cors(
    relative_sandbox: Any, relative_sandbox_env: Any, run_gate: Any
) -> None:
    """Same-origin calls through the host's rewrite: an API without CORS is no defect then."""
    relative_sandbox.set_faults(["cors_missing"])
    try:
        run = run_gate(SMOKE, env=relative_sandbox_env)
    finally:
        relative_sandbox.set_faults([])
    assert run.gate()["verdict"] == "allow", run.output
