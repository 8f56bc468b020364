"""Prints how much the browser checks (smoke/test_frontend_browser.py: the Create form end to
end, the Growth Hub) add to `pytest smoke -m create_flow` against an already running sandbox
(target <= 5 s), runs with and without them alternating, medians compared.

    .venv/bin/python benchmarks/browser_check.py [--repeat 3] [--frontend-mode relative]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from promorang_sandbox import start_sandbox

REPO = Path(__file__).resolve().parent.parent
BROWSER_CHECKS = "smoke/test_frontend_browser.py"
TARGET_S = 5.0


def timed(command: list[str], must_allow: bool = True) -> float:
    """Wall time of one run; the full run must end in allow (without the browser checks their
    items are not verified, so that run blocks by design)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 and (must_allow or done.returncode != 1):
        sys.exit(f"the run failed, no figure:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frontend-mode", choices=("absolute", "relative"), default="absolute")
    args = parser.parse_args()
    extra = ["--frontend-mode", args.frontend_mode]
    with start_sandbox(extra_args=extra) as sandbox, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.json"
        state.write_text(sandbox.state.to_json())
        run = [sys.executable, "-m", "pytest", "smoke", "-m", "create_flow", "-q"]
        run += ["-p", "no:cacheprovider", f"--sandbox-state={state}"]
        run += [f"--gate-reports={tmp}/reports", f"--alluredir={tmp}/allure"]
        without = [*run, "--deselect", BROWSER_CHECKS]
        timed(run)  # warm caches (and start Chromium once), so neither side pays for cold reads
        with_s, without_s = [], []
        for _ in range(args.repeat):
            with_s.append(timed(run))
            without_s.append(timed(without, must_allow=False))
    with_m, without_m = statistics.median(with_s), statistics.median(without_s)
    added = with_m - without_m
    print(f"frontend mode {args.frontend_mode}, {args.repeat} runs each")
    print(f"pytest smoke -m create_flow, with the browser checks:    median {with_m:.2f}s")
    print(f"pytest smoke -m create_flow, without the browser checks: median {without_m:.2f}s")
    verdict = "within" if added <= TARGET_S else "OVER"
    print(f"the browser checks add {added:.2f}s ({verdict} the {TARGET_S:g}s target)")


if __name__ == "__main__":
    main()
