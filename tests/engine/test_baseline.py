"""The gate run's baseline: an allowed run appends its figures to reports/history/<env>.jsonl,
the next run of the env and gate compares with the last allowed one (slo.upload_no_regression),
and the watch's records stay the watch's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import gate_file, item_status

from promorang_gate.decision.baseline import (
    GATE,
    WATCH,
    Margin,
    append_history,
    compare_with_last,
    gate_record,
    history_path,
    last_allowed,
)
from promorang_gate.decision.checklists import ChecklistItem, load_catalog
from promorang_gate.decision.verdict import ChecklistResult, EnvVerdict, ItemResult
from promorang_gate.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
LATENCY = {"upload_latency": {"p50_s": 0.1, "p95_s": 0.2, "uploads": 20, "failures": 0}}


def _gate(at: str, p95_s: float, **extra: Any) -> dict[str, Any]:
    figures = {"upload_latency": {"p95_s": p95_s, "uploads": 20}}
    record = {"kind": GATE, "at": at, "env": "staging", "gate": "promotion", "verdict": "allow"}
    return record | {"items": {"slo.upload_latency_p95": figures}, "failed": []} | extra


def _regression_item() -> ChecklistItem:
    return load_catalog(REPO / "checklists").items["slo.upload_no_regression"]


def test_the_shipped_item_declares_its_baseline_and_margin() -> None:
    item = _regression_item()
    baseline = dict(item.baseline)
    assert not item.gating
    assert item.writes
    assert (baseline["item"], baseline["metric"]) == ("slo.upload_latency_p95", "upload_latency")
    assert (baseline["margin_ratio"], baseline["margin_min_s"]) == (0.5, 0.1)
    assert "jitter" in str(baseline["reason"])


@pytest.mark.parametrize(
    ("baseline", "fragment"),
    [
        ("{item: slo.a, metric: m, margin_ratio: 0.5}", "'baseline.margin_min_s' must be a number"),
        ("{item: slo.a, metric: m, margin_ratio: -1, margin_min_s: 0}", "'baseline.margin_ratio'"),
        ("{metric: m, margin_ratio: 0.5, margin_min_s: 0.1}", "'item' must be a non-empty string"),
        ("{item: slo.a, metric: m, margin: 1}", "unknown key(s) margin"),
    ],
)
def test_a_baseline_declaration_is_checked_when_loaded(
    tmp_path: Path, baseline: str, fragment: str
) -> None:
    (tmp_path / "slo.yaml").write_text(
        "id: slo\ntitle: SLO\nitems:\n  - id: slo.a\n    text: A.\n"
        f"  - id: slo.b\n    text: B.\n    gating: false\n    baseline: {baseline}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_catalog(tmp_path)


def test_each_kind_reads_only_its_own_records(tmp_path: Path) -> None:
    path = history_path(tmp_path, "staging")
    # A watch record written before records had a kind is still the watch's.
    old_watch = {"at": "w1", "env": "staging", "gate": "promotion", "verdict": "allow"}
    append_history(path, old_watch | {"probes": {"all": {"p95_s": 0.05, "samples": 40}}})
    append_history(path, _gate("g1", 0.2))
    path.open("a", encoding="utf-8").write("not json\n[1]\n")
    watch = last_allowed(path, "staging", "promotion")
    assert watch is not None
    assert (watch.p95_s, watch.kind) == (0.05, WATCH)
    found = compare_with_last(tmp_path, "staging", "promotion", _regression_item())
    assert found is not None
    assert (found.baseline.p95_s, found.baseline.samples, found.baseline.kind) == (0.2, 20, GATE)
    assert "allowed gate run g1" in found.baseline.describe()


def test_the_last_allowed_run_of_the_env_and_gate_is_the_baseline(tmp_path: Path) -> None:
    path = history_path(tmp_path, "staging")
    append_history(path, _gate("g1", 0.2))
    append_history(path, _gate("g2", 0.3))
    append_history(path, _gate("other gate", 9.0, gate="create_flow"))
    append_history(path, _gate("other env", 9.0, env="prod"))
    append_history(path, _gate("blocked", 9.0, verdict="block"))
    # A run whose regression item failed was allowed (the item does not gate) but is no baseline.
    append_history(path, _gate("regressed", 9.0, failed=["slo.upload_no_regression"]))
    append_history(path, _gate("no uploads", 9.0, items={"health.api": {}}))
    found = compare_with_last(tmp_path, "staging", "promotion", _regression_item())
    assert found is not None
    assert found.baseline.finished_at == "g2"
    assert compare_with_last(tmp_path, "staging", "post_deploy", _regression_item()) is None
    assert compare_with_last(tmp_path, "local", "promotion", _regression_item()) is None


def test_worse_means_both_the_ratio_and_the_minimum() -> None:
    margin = Margin(0.5, 0.1)
    assert margin.limit_s(0.1) == pytest.approx(0.2)  # +100 ms wins at a few hundred ms
    assert margin.limit_s(1.0) == pytest.approx(1.5)  # +50 % wins above 200 ms


def _verdict(verdict: str, *statuses: tuple[str, str, dict[str, Any]]) -> EnvVerdict:
    items = tuple(ItemResult(i, i, s, (), None, m) for i, s, m in statuses)  # type: ignore[arg-type]
    return EnvVerdict("staging", "promotion", verdict, (ChecklistResult("c", "C", items),))  # type: ignore[arg-type]


def test_a_record_holds_the_passed_items_figures_of_an_allowed_run_only() -> None:
    allowed = _verdict(
        "allow",
        ("slo.upload_latency_p95", "passed", LATENCY),
        ("slo.upload_no_regression", "failed", {"upload_regression": {"p95_s": 0.9}}),
        ("health.api", "passed", {}),
    )
    record = gate_record(allowed, "gr-1", "t1")
    assert record is not None
    assert record["items"] == {"slo.upload_latency_p95": LATENCY}
    assert record["failed"] == ["slo.upload_no_regression"]
    assert (record["kind"], record["env"], record["gate"], record["run_id"]) == (
        GATE,
        "staging",
        "promotion",
        "gr-1",
    )
    blocked = _verdict("block", ("slo.upload_latency_p95", "passed", LATENCY))
    assert gate_record(blocked, "gr-2", "t2") is None
    assert gate_record(_verdict("allow", ("health.api", "passed", {})), "gr-3", "t3") is None


REGRESSION_GATES = """
gates:
  health: {requires: [health]}
  regression: {requires: [slo.upload_latency_p95, slo.upload_no_regression]}
"""

REGRESSION_SUITE = """
import os
import pytest

@pytest.mark.checklist("slo.upload_latency_p95")
def test_latency(gate_target, gate_metrics):
    gate_metrics.record("upload_latency", {"p95_s": float(os.environ["P95"]), "uploads": 20})
    assert os.environ.get("BLOCK") != "1", "the latency budget is exceeded"

@pytest.mark.checklist("slo.upload_no_regression")
def test_no_regression(gate_target, gate_baseline, gate_metrics):
    p95_s = float(os.environ["P95"])
    gate_metrics.record("upload_regression", gate_baseline.figures(p95_s))
    assert not gate_baseline.regressed(p95_s), f"worse than {gate_baseline.baseline.describe()}"
"""


def test_allowed_runs_append_and_the_next_compares(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    (project.path / "checklists" / "gates.yaml").write_text(REGRESSION_GATES, encoding="utf-8")
    (project.path / "environments" / "local.toml").write_text('gate = "regression"\n')
    project.makepyfile(test_slo=REGRESSION_SUITE)
    history = project.path / "reports" / "history" / "local.jsonl"
    outputs: list[str] = []

    def run(p95_s: float, *, block: bool = False) -> tuple[str, str, str | None]:
        clean_env.setenv("P95", str(p95_s))
        clean_env.setenv("BLOCK", "1" if block else "0")
        result = project.runpytest("--env", "local")
        data = gate_file(project)
        # The exit code follows the verdict: a failed non-gating item alone does not fail it.
        assert result.ret == (0 if data["verdict"] == "allow" else 1)
        outputs.append(str(result.stdout))
        status, reason = item_status(data)["slo.upload_no_regression"]
        return data["verdict"], status, reason

    verdict, status, reason = run(0.2)  # first run: no baseline, not verified, not gating
    assert (verdict, status) == ("allow", "not_verified")
    assert reason is not None
    assert reason.startswith("no baseline: no allowed run of gate")
    assert len(history.read_text().splitlines()) == 1

    assert run(9.0, block=True)[:2] == ("block", "failed")  # blocked: compared, not recorded
    assert len(history.read_text().splitlines()) == 1

    assert run(0.25)[:2] == ("allow", "passed")  # within max(0.2 * 1.5, 0.2 + 0.1)
    verdict, status, reason = run(0.6)  # worse than 0.25's limit: fails, does not gate
    assert (verdict, status) == ("allow", "failed")
    assert "failed, reported, not gating: slo.upload_no_regression" in outputs[-1]
    assert reason is not None
    assert "worse than P95 0.250 s of 20 samples" in reason
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert [r["items"]["slo.upload_latency_p95"]["upload_latency"]["p95_s"] for r in records] == [
        0.2,
        0.25,
        0.6,
    ]
    assert records[-1]["failed"] == ["slo.upload_no_regression"]
    assert {(r["kind"], r["env"], r["gate"], r["verdict"]) for r in records} == {
        ("gate", "local", "regression", "allow")
    }
