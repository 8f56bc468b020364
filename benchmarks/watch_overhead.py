"""The watch's own cost per interval: CPU time of the watching process and requests sent, with
what a 30-minute watch at the default 30 s interval costs a CI runner.

Run: python benchmarks/watch_overhead.py [--intervals N] [--sandbox-state STATE_FILE]. Without
a state file a sandbox is started and stopped. Target: < 50 ms of CPU per interval.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import load_gates
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.watch.items import ItemState, judge, watch_specs
from promorang_gate.watch.measures import ConnectionsReader, Database, StorageReader
from promorang_gate.watch.probes import Prober
from promorang_gate.watch.progress import progress_line
from promorang_gate.watch.target import resolve_watched
from promorang_gate.watch.windows import Interval, Series

REPO = Path(__file__).resolve().parent.parent
TARGET_CPU_MS = 50.0
DEFAULT_INTERVAL_S, DEFAULT_DURATION_S = 30.0, 1800.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--intervals", type=int, default=20)
    parser.add_argument("--sandbox-state", default=None)
    args = parser.parse_args()
    redactor = Redactor()
    watched = resolve_watched("sandbox", REPO, redactor, sandbox_state=args.sandbox_state)
    catalog = load_catalog(REPO / "checklists")
    specs = watch_specs(catalog, load_gates(catalog)["watch"].requires)
    states = [ItemState(spec) for spec in specs]
    prober, db = Prober(watched.target, redactor), Database(watched.target, redactor)
    connections = ConnectionsReader(db, redactor)
    storage = StorageReader(db, 1 << 30, "benchmark")
    series, cpu_ms, wall_ms, requests = Series(), [], [], []
    try:
        prober.discover_content()
        for index in range(args.intervals):
            cpu, wall = time.process_time(), time.perf_counter()
            probes = prober.run()
            readings = {"connections": connections.read(), "storage_quota": storage.read()}
            series.add(Interval(index, 0.0, prober.elapsed(), probes, readings))
            for state in states:
                state.add(judge(state.spec, series))
            progress_line(prober.elapsed(), DEFAULT_DURATION_S, series.requests, states)
            cpu_ms.append((time.process_time() - cpu) * 1000)
            wall_ms.append((time.perf_counter() - wall) * 1000)
            requests.append(len(probes))
    finally:
        prober.close()
        connections.close()
        db.close()
        watched.close()
    cpu, wall = statistics.median(cpu_ms), statistics.median(wall_ms)
    per_run = DEFAULT_DURATION_S / DEFAULT_INTERVAL_S
    sent = sum(requests) / len(requests) * per_run
    ok = cpu < TARGET_CPU_MS
    print(
        f"per interval: CPU median {cpu:.1f} ms (min {min(cpu_ms):.1f}, max {max(cpu_ms):.1f}),"
        f" wall median {wall:.1f} ms, {statistics.mean(requests):.0f} requests + 2 database reads"
    )
    print(
        f"30 min at {DEFAULT_INTERVAL_S:.0f} s: {per_run:.0f} intervals,"
        f" {cpu * per_run / 1000:.1f} s of CPU, {sent:.0f} requests"
        f"  (target < {TARGET_CPU_MS:.0f} ms CPU per interval: {'ok' if ok else 'MISSED'})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
