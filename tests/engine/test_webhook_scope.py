"""The webhook items join an env's gate only where its profile says the release serves the
webhook and writes are allowed; elsewhere the gate file says why they are not required, and
``verdict`` re-derives that from the profile (a file cannot excuse them itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from promorang_gate.decision.checklists import Catalog, load_catalog
from promorang_gate.decision.gates import GateChoice, load_gates
from promorang_gate.decision.webhook_scope import not_required, profile_not_required, scoped

WEBHOOK_ITEMS = {
    "webhooks.unsigned_refused",
    "webhooks.wrong_secret_refused",
    "webhooks.stale_timestamp_refused",
    "webhooks.altered_body_refused",
    "webhooks.signed_event_accepted",
}


@pytest.fixture
def catalog(repo_root: Path) -> Catalog:
    return load_catalog(repo_root / "checklists")


def test_promotion_requires_the_webhook_items_only_where_the_profile_says_so(
    catalog: Catalog,
) -> None:
    promotion = GateChoice(load_gates(catalog)["promotion"], "profile of staging")
    assert set(promotion.gate.requires) >= WEBHOOK_ITEMS
    serves = {"writes_allowed": True, "webhooks": True}
    assert not_required(catalog, "staging", serves, {}) == {}
    excused = not_required(catalog, "staging", {"writes_allowed": True}, {})
    assert set(excused) == WEBHOOK_ITEMS
    assert "GATE_STAGING_WEBHOOKS=true" in excused["webhooks.unsigned_refused"]
    narrowed = scoped(promotion, excused)
    assert not WEBHOOK_ITEMS & set(narrowed.gate.requires)
    assert set(narrowed.not_required) == WEBHOOK_ITEMS
    assert len(narrowed.gate.requires) == len(promotion.gate.requires) - len(WEBHOOK_ITEMS)


def test_an_env_without_writes_sends_no_webhook_check(catalog: Catalog) -> None:
    excused = not_required(catalog, "prod", {"writes_allowed": False, "webhooks": True}, {})
    assert set(excused) == WEBHOOK_ITEMS
    assert "allows no writes" in excused["webhooks.signed_event_accepted"]


def test_a_gate_without_webhook_items_is_unchanged(catalog: Catalog) -> None:
    post_deploy = GateChoice(load_gates(catalog)["post_deploy"], "profile of prod")
    excused = not_required(catalog, "prod", {"writes_allowed": False}, {})
    assert scoped(post_deploy, excused) is post_deploy


def test_verdict_reads_the_scope_from_profile_and_variables(
    catalog: Catalog, tmp_path: Path
) -> None:
    assert profile_not_required(catalog, "sandbox", None, {}) == {}
    assert set(profile_not_required(catalog, "staging", None, {})) == WEBHOOK_ITEMS
    variables = {"GATE_STAGING_WEBHOOKS": "true"}
    assert profile_not_required(catalog, "staging", None, variables) == {}
    (tmp_path / "staging.toml").write_text("webhooks = true\n")
    assert profile_not_required(catalog, "staging", tmp_path, {}) == {}
