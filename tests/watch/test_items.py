"""Items judged interval by interval: no data is never a pass, a breach names its figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import choose_gate, load_gates
from promorang_gate.errors import ConfigError
from promorang_gate.watch.baseline import Baseline, append_history, history_path, last_allowed
from promorang_gate.watch.items import ItemState, WatchSpec, judge, watch_specs
from promorang_gate.watch.measures import Reading, utilization_from_metrics
from promorang_gate.watch.probes import ProbeResult
from promorang_gate.watch.windows import Interval, Series

REPO = Path(__file__).resolve().parents[2]


def _specs() -> dict[str, WatchSpec]:
    catalog = load_catalog(REPO / "checklists")
    gate = load_gates(catalog)["watch"]
    return {s.measure: s for s in watch_specs(catalog, gate.requires)}


def _probes(at: float, n: int, failed: int = 0, latency: float = 0.01) -> list[ProbeResult]:
    return [
        ProbeResult("health", "GET", "/api/health", at, latency, 500 if k < failed else 200)
        for k in range(n)
    ]


def _series(*rounds: tuple[int, int], readings: dict[str, Reading] | None = None) -> Series:
    series = Series()
    for index, (n, failed) in enumerate(rounds):
        series.add(Interval(index, index, index + 1, _probes(index, n, failed), readings or {}))
    return series


def test_the_watch_gate_holds_the_section_6_thresholds() -> None:
    specs = _specs()
    assert set(specs) == {
        "error_rate",
        "latency_p95",
        "connections",
        "storage_quota",
        "webhook_failures",
        "no_regression",
    }
    assert specs["error_rate"].breach_above == 0.02
    assert specs["error_rate"].window_s == 300
    assert specs["connections"].breach_above == 0.8
    assert (specs["storage_quota"].warn_above, specs["storage_quota"].breach_above) == (0.8, 0.95)
    assert specs["latency_p95"].read_budget_s == 1.5
    assert "section 6" in specs["latency_p95"].read_budget_source


def test_pytest_may_not_judge_the_watch_gate() -> None:
    gates = load_gates(load_catalog(REPO / "checklists"))
    with pytest.raises(ConfigError, match="judged by promorang-gate watch, not by pytest"):
        choose_gate(gates, option="watch", markexpr="", profile_gate="full", env="sandbox")
    choice = choose_gate(
        gates, option="watch", markexpr="", profile_gate="x", env="prod", judge="watch"
    )
    assert choice.gate.judged_by == "watch"


def test_a_watch_item_has_no_checks(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "id: m\ntitle: M\nitems:\n  - id: m.x\n    text: x\n    checks: [a.py::t]\n"
        "    watch: {measure: error_rate, breach_above: 0.02}\n"
    )
    with pytest.raises(ConfigError, match="judged by promorang-gate watch alone"):
        load_catalog(tmp_path)


def test_error_rate_breaches_only_over_its_minimum_and_its_threshold() -> None:
    spec = _specs()["error_rate"]
    warming = judge(spec, _series((4, 4)))
    assert warming.state == "warming"
    assert warming.value == 1.0
    breach = judge(spec, _series((10, 0), (10, 0), (4, 1)))
    assert breach.state == "breach"
    assert dict(breach.figures)["failed"] == 1
    assert judge(spec, _series((25, 0))).state == "ok"


def test_an_interval_without_data_leaves_the_item_not_verified() -> None:
    spec = _specs()["connections"]
    state = ItemState(spec)
    ok = {"connections": Reading(0.1, {"scope": "cluster"})}
    state.add(judge(spec, _series((1, 0), readings=ok)))
    state.add(judge(spec, _series((1, 0), readings={"connections": Reading(None, {}, "down")})))
    status, reason = state.outcome()
    assert status == "not_verified"
    assert reason == "1 of 2 intervals without data: down"


def test_too_few_samples_is_not_verified_never_passed() -> None:
    spec = _specs()["error_rate"]
    state = ItemState(spec)
    state.add(judge(spec, _series((4, 0))))
    assert state.outcome() == ("not_verified", "window holds 4 samples, fewer than 20")


def test_failure_limit_counts_consecutive_breaches() -> None:
    spec = _specs()["storage_quota"]
    state = ItemState(spec, failure_limit=2)
    full = {"storage_quota": Reading(0.97, {"used_bytes": 97, "quota_bytes": 100, "objects": 1})}
    empty = {"storage_quota": Reading(0.1, {})}
    for readings in (full, empty, full):
        state.add(judge(spec, _series((1, 0), readings=readings)))
    assert state.failed_at is None
    assert state.outcome()[0] == "failed"
    assert "still breaching when the watch ended" in (state.outcome()[1] or "")
    state.add(judge(spec, _series((1, 0), readings=empty)))
    assert state.outcome() == ("passed", "2 breaching intervals, never 2 in a row")
    state.add(judge(spec, _series((1, 0), readings=full)))
    state.add(judge(spec, _series((1, 0), readings=full)))
    status, reason = state.outcome()
    assert status == "failed"
    assert "storage 97% of the quota (97 of 100 bytes, 1 objects)" in (reason or "")


def test_storage_warns_at_80_percent() -> None:
    spec = _specs()["storage_quota"]
    j = judge(spec, _series((1, 0), readings={"storage_quota": Reading(0.85, {})}))
    assert j.state == "warn"


METRICS = """\
# HELP pg_settings_max_connections Server Parameter: max_connections
# TYPE pg_settings_max_connections gauge
pg_settings_max_connections{server="localhost:5432"} 60
# TYPE pg_settings_superuser_reserved_connections gauge
pg_settings_superuser_reserved_connections{server="localhost:5432"} 3
# TYPE pg_stat_database_num_backends gauge
pg_stat_database_num_backends{datid="5",datname="postgres",server="localhost:5432"} 40
pg_stat_database_num_backends{datid="1",datname="template1",server="localhost:5432"} 7
"""


def test_connections_from_supabase_metrics_use_the_exposition_parser() -> None:
    reading = utilization_from_metrics(METRICS)
    assert reading.value == pytest.approx(47 / 57)
    assert reading.figures["cluster_used"] == 47
    assert reading.figures["cluster_limit"] == 57
    missing = utilization_from_metrics("# TYPE up gauge\nup 1\n")
    assert missing.value is None
    assert "pg_settings_max_connections" in (missing.missing or "")


def test_no_regression_needs_a_baseline_and_its_declared_margin(tmp_path: Path) -> None:
    spec = _specs()["no_regression"]
    assert (spec.margin_ratio, spec.margin_min_s) == (0.5, 0.1)
    series = Series()
    slow = [ProbeResult("health", "GET", "/api/health", 0, 0.5, 200) for _ in range(20)]
    series.add(Interval(0, 0, 1, slow))
    assert judge(spec, series).state == "no_data"
    history = history_path(tmp_path, "prod")
    append_history(
        history,
        {
            "at": "t1",
            "env": "prod",
            "gate": "watch",
            "verdict": "allow",
            "probes": {"all": {"p95_s": 0.2, "samples": 40}},
        },
    )
    history.open("a").write("not json\n")
    append_history(
        history,
        {
            "at": "t2",
            "env": "prod",
            "gate": "other",
            "verdict": "allow",
            "probes": {"all": {"p95_s": 9.0, "samples": 40}},
        },
    )
    baseline = last_allowed(history, "prod", "watch")
    assert baseline is not None
    assert (baseline.p95_s, baseline.finished_at) == (0.2, "t1")
    judged = judge(spec, series, baseline)
    assert judged.state == "breach"  # 0.5 s > max(0.2 * 1.5, 0.2 + 0.1)
    assert judged.threshold == pytest.approx(0.3)
    near = Baseline(0.45, 40, "t3")
    assert judge(spec, series, near).state == "ok"  # within +50 % and +100 ms


def test_a_read_only_env_is_pointed_to_gates_of_the_same_command() -> None:
    from promorang_gate.decision.gates import refuse_writes_on_read_only

    catalog = load_catalog(REPO / "checklists")
    gates = load_gates(catalog)
    choice = choose_gate(gates, option="promotion", markexpr="", profile_gate="x", env="prod")
    with pytest.raises(ConfigError, match=r"gates that need no write: post_deploy$"):
        refuse_writes_on_read_only(choice, catalog, "prod", False, gates.values())
