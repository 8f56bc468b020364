"""Prints how long the contract suite takes against a sandbox with default settings (target < 60 s).

    python benchmarks/contract_runtime.py [--sandbox-state STATE_FILE]

Without a state file a sandbox is started for the measurement and stopped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def measure(state_file: Path, workdir: Path) -> tuple[float, int, str]:
    command = [
        sys.executable, "-m", "pytest", "contract", "-q", "-p", "no:cacheprovider",
        "--sandbox-state", str(state_file), "--gate-reports", str(workdir / "reports"),
        f"--alluredir={workdir / 'allure'}",
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=dict(os.environ)
    )
    elapsed = time.monotonic() - started
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", done.stdout, re.M)
    return elapsed, done.returncode, summary[-1] if summary else done.stdout[-2000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox-state", type=Path, help="attach to a running sandbox")
    args = parser.parse_args(argv)
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
            elapsed, code, summary = measure(state_file, workdir)
        finally:
            if handle is not None:
                handle.stop()
    verdict = "ok" if elapsed < TARGET_S and code == 0 else "OVER TARGET OR FAILED"
    print(f"contract suite: {elapsed:.1f} s against the sandbox ({summary}; exit {code})")
    print(f"target: < {TARGET_S:.0f} s -> {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
