"""The live line: plain lines in a log, redrawn in place (rich) on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import load_gates
from promorang_gate.watch.items import ItemState, judge, watch_specs
from promorang_gate.watch.measures import Reading
from promorang_gate.watch.probes import ProbeResult
from promorang_gate.watch.progress import Progress, progress_line
from promorang_gate.watch.windows import Interval, Series

REPO = Path(__file__).resolve().parents[2]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _states() -> list[ItemState]:
    catalog = load_catalog(REPO / "checklists")
    states = [ItemState(s) for s in watch_specs(catalog, load_gates(catalog)["watch"].requires)]
    series = Series()
    probes = [ProbeResult("health", "GET", "/api/health", 0, 0.2, 200) for _ in range(25)]
    readings = {"connections": Reading(0.42, {}), "storage_quota": Reading(0.97, {})}
    series.add(Interval(0, 0, 1, probes, readings))
    for state in states:
        state.add(judge(state.spec, series))
    return states


def test_the_line_names_the_figures_and_the_worst_item() -> None:
    line = progress_line(65, 1800, 25, _states())
    assert line == (
        "[01:05 / 30:00] requests 25  errors 0.0%  P95 0.200s  connections 42.0%"
        "  worst: watch.storage_quota breach"
    )


def test_plain_lines_in_a_log_and_one_redrawn_line_on_a_terminal() -> None:
    log = io.StringIO()
    plain = Progress(log)
    plain.update("first")
    plain.update("second")
    plain.close()
    assert log.getvalue() == "first\nsecond\n"
    terminal = _Terminal()
    live = Progress(terminal)
    live.update("first")
    live.update("second")
    live.close()
    drawn = terminal.getvalue()
    assert "second" in drawn
    assert "\x1b[" in drawn  # the cursor moved back over the previous line
