"""Start-up time of the sandbox, to ready, on the shared server and on a private cluster.

Run: python benchmarks/sandbox_startup.py [--runs N]. Targets: shared < 3 s, private < 8 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

from promorang_sandbox import start_sandbox

TARGETS = {"shared": 3.0, "private": 8.0}
ENVS = {"shared": {}, "private": {"PROMORANG_SANDBOX_PRIVATE_PG": "1"}}


def measure(env: dict[str, str]) -> float:
    started = time.monotonic()
    handle = start_sandbox(env=env, ready_timeout_s=60)
    took = time.monotonic() - started
    handle.stop()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    worst_ok = True
    for name, env in ENVS.items():
        times = [measure(env) for _ in range(args.runs)]
        median = statistics.median(times)
        ok = median < TARGETS[name]
        worst_ok &= ok
        print(
            f"{name:8} median {median:.2f} s  min {min(times):.2f}  max {max(times):.2f}"
            f"  (target < {TARGETS[name]:.0f} s: {'ok' if ok else 'MISSED'})"
        )
    return 0 if worst_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
