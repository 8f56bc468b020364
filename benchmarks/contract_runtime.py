"""Prints how long the contract part of the default run takes against a sandbox, test family by
test family, against its budget (the sandbox profile's contract_deadline_s, 60 s).

    python benchmarks/contract_runtime.py [--sandbox-state STATE_FILE] [--contract-only]

The default run is ``pytest`` with the project's testpaths (smoke and contract); its contract
part is the sum of the contract tests' setup, call and teardown times. ``--contract-only``
runs ``pytest contract`` instead. Without a state file a sandbox is started and stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
DURATION = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(contract/\S+?)::(\w+)", re.M)


def measure(state_file: Path, workdir: Path, paths: list[str]) -> tuple[float, int, str]:
    command = [
        sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider",
        "--durations=0", "--durations-min=0",
        f"--gate-reports={workdir / 'reports'}", f"--alluredir={workdir / 'allure'}",
    ]  # fmt: skip
    # The variable, not --sandbox-state: a path among the arguments would move pytest's rootdir.
    env = {**os.environ, "PROMORANG_SANDBOX_STATE": str(state_file)}
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=env
    )
    return time.monotonic() - started, done.returncode, done.stdout


def contract_part(output: str) -> dict[str, float]:
    """Seconds per contract test family (setup + call + teardown of all its parameters)."""
    families: dict[str, float] = defaultdict(float)
    for seconds, _, test in DURATION.findall(output):
        families[test] += float(seconds)
    return dict(families)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox-state", type=Path, help="attach to a running sandbox")
    parser.add_argument("--contract-only", action="store_true", help="run `pytest contract`")
    args = parser.parse_args(argv)
    paths = ["contract"] if args.contract_only else []
    with tempfile.TemporaryDirectory(prefix="contract-bench-") as tmp:
        workdir = Path(tmp)
        handle = None
        state_file = args.sandbox_state
        if state_file is None:
            from promorang_sandbox import start_sandbox

            handle = start_sandbox(ready_timeout_s=60.0)
            state_file = workdir / "state.json"
            state_file.write_text(handle.state.to_json())
        try:
            elapsed, code, output = measure(state_file, workdir, paths)
        finally:
            if handle is not None:
                handle.stop()
    families = contract_part(output)
    total = sum(families.values())
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", output, re.M)
    run = "pytest contract" if args.contract_only else "pytest (default run)"
    print(f"{run}: {elapsed:.1f} s wall ({summary[-1] if summary else '?'}; exit {code})")
    print(f"contract part: {total:.1f} s")
    for test, seconds in sorted(families.items(), key=lambda kv: -kv[1]):
        print(f"  {test:<36} {seconds:6.1f} s")
    verdict = "ok" if total < BUDGET_S and code == 0 else "OVER BUDGET OR FAILED"
    print(f"budget: < {BUDGET_S:.0f} s -> {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
