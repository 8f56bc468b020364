"""Where one fault-matrix row's time goes: a whole default gate run (``pytest``) against a
running sandbox with one fault, split into its parts.

- the sandbox's start (paid once per worker by the project's tests, not per row);
- Python's start-up alone (``python -c pass``);
- pytest's start, its plugins' imports and the collection (``pytest --co``), and the heaviest
  imports in it (``-X importtime``, cumulative);
- the row itself, and from its ``--durations``: the contract's first setup (schemathesis'
  import and the schema's load), the first browser check's setup (Playwright's driver and
  Chromium's start) and the checks themselves (everything else).

Each figure is wall-clock and, in brackets, the CPU seconds of the processes it ran: on a
machine shared with other work the wall figures move with the load, the CPU ones much less.

    .venv/bin/python benchmarks/matrix_row_profile.py [--fault mint_skipped]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from promorang_sandbox import start_sandbox

REPO = Path(__file__).resolve().parent.parent
HEAVY_IMPORTS = (
    "promorang_gate",
    "pytest_playwright",
    "playwright",
    "allure_pytest",
    "supabase",
    "psycopg",
    "httpx",
    "schemathesis",
    "hypothesis",
)
DURATION = re.compile(r"^([0-9.]+)s (setup|call|teardown)\s+(\S.*)$")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: Sequence[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s, output) of one command run from the checkout."""
    cpu, started = _children_cpu(), time.monotonic()
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    return time.monotonic() - started, _children_cpu() - cpu, done.stdout + done.stderr


def _import_times(output: str) -> dict[str, float]:
    """Cumulative import seconds of the top-level packages named in HEAVY_IMPORTS."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        top = parts[2].split(".")[0]
        if top in HEAVY_IMPORTS:  # the outermost import of a package carries its whole cost
            found[top] = max(found.get(top, 0.0), int(parts[1]) / 1e6)
    return found


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", default="mint_skipped")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.monotonic()
    sandbox = start_sandbox(ready_timeout_s=60)
    start_s = time.monotonic() - started
    try:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "state.json"
            state.write_text(sandbox.state.to_json())
            env["PROMORANG_SANDBOX_STATE"] = str(state)
            sandbox.set_faults([args.fault])
            base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
            reports = f"--gate-reports={tmp}/reports"
            bare = _timed([sys.executable, "-c", "pass"], env)
            _timed([*base, "--co", reports], env)  # bytecode written once
            collect = _timed([*base, "--co", reports], env)
            imports = _import_times(
                _timed([sys.executable, "-X", "importtime", *base[1:], "--co", reports], env)[2]
            )
            row = _timed([*base, reports, "--durations=0"], env)
            sandbox.set_faults([])
    finally:
        sandbox.stop()

    setups = [
        (float(m[1]), m[3])
        for m in map(DURATION.match, row[2].splitlines())
        if m and m[2] == "setup"
    ]
    total = sum(float(m[1]) for m in map(DURATION.match, row[2].splitlines()) if m)
    schema = next((s for s, test in setups if test.startswith("contract/")), 0.0)
    chromium = next((s for s, test in setups if "browser" in test), 0.0)
    verdict = re.search(r"GATE sandbox: (\w+)", row[2])

    def line(label: str, wall: float, cpu: float | None = None) -> None:
        out(f"{label:<52} {wall:6.2f} s" + ("" if cpu is None else f"  [{cpu:.2f} CPU s]"))

    out(f"one fault-matrix row: `pytest` (gate full) under {args.fault}")
    line("sandbox start (once per worker)", start_s)
    line("python -c pass", bare[0], bare[1])
    line("pytest start, plugin imports, collection (--co)", collect[0], collect[1])
    for name, seconds in sorted(imports.items(), key=lambda kv: -kv[1]):
        line(f"  import {name}", seconds)
    line(f"the row, whole ({verdict[1] if verdict else 'no verdict'})", row[0], row[1])
    line("  contract first setup: schemathesis, schema load", schema)
    line("  first browser setup: driver, Chromium start", chromium)
    line("  the checks themselves (the rest of --durations)", total - schema - chromium)


if __name__ == "__main__":
    main()
