"""The project's loops, timed: each figure the median of ``--repeat`` runs (min and max), wall
clock and, in brackets, the CPU seconds of the processes the run started.

- the README's main job, ``pytest`` with the sandbox started for it, with the bytecode cache
  on and with ``PYTHONDONTWRITEBYTECODE=1`` (target <= 6 s);
- the developer's inner loop, ``pytest tests -m "not slow"`` (target <= 60 s);
- the project's own tests, ``pytest tests`` (target <= 5 min; ``--no-suite`` leaves it out, it
  takes minutes each time).

    .venv/bin/python benchmarks/fast_loops.py [--repeat 3] [--no-suite] [--only main]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTEST = str(Path(sys.executable).with_name("pytest"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    cpu, started = _children_cpu(), time.monotonic()
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    wall = time.monotonic() - started
    if done.returncode != 0:  # a red run is no figure
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{tail}")
    return wall, _children_cpu() - cpu


def _figure(label: str, target: str, samples: list[tuple[float, float]]) -> str:
    walls = [w for w, _ in samples]
    cpu = statistics.median(c for _, c in samples)
    spread = f"(min {min(walls):.1f}, max {max(walls):.1f})"
    median = statistics.median(walls)
    return f"{label:<52} median {median:7.1f} s {spread:<22} [{cpu:.1f} CPU s]  {target}"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-suite", action="store_true", help="leave `pytest tests` out")
    parser.add_argument("--only", choices=("main", "inner", "suite"), action="append")
    args = parser.parse_args(argv)
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    uncached = {**cached, "PYTHONDONTWRITEBYTECODE": "1"}
    runs: list[tuple[str, str, str, list[str], dict[str, str]]] = [
        ("main", "`pytest` (main job, sandbox started)", "<= 6 s", [PYTEST, "-q"], cached),
        ("main", "the same, PYTHONDONTWRITEBYTECODE=1", "<= 6 s", [PYTEST, "-q"], uncached),
        (
            "inner",
            '`pytest tests -m "not slow"`',
            "<= 60 s",
            [PYTEST, "tests", "-q", "-m", "not slow"],
            cached,
        ),
        ("suite", "`pytest tests`", "<= 300 s", [PYTEST, "tests", "-q"], cached),
    ]
    selected = set(args.only or ("main", "inner", *(() if args.no_suite else ("suite",))))
    _run([PYTEST, "-q"], cached)  # untimed: bytecode written once, as after the first run
    for kind, label, target, command, env in runs:
        if kind in selected:
            out(_figure(label, target, [_run(command, env) for _ in range(args.repeat)]))


if __name__ == "__main__":
    main()
