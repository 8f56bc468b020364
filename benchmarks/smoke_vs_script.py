"""Prints how long the gate's Create-flow run takes against an already running sandbox,
compared in the same run with a bare httpx script making the same essential requests
(target ratio <= 2.0), and the smoke suite's collection time (schemathesis must stay unloaded).

    .venv/bin/python benchmarks/smoke_vs_script.py [--repeat 3]
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


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with start_sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.json"
        state.write_text(sandbox.state.to_json())
        gate = [
            sys.executable,
            "-m",
            "pytest",
            "smoke",
            "-m",
            "create_flow",
            "-q",
            "-p",
            "no:cacheprovider",
            "--sandbox-state",
            str(state),
            "--gate-reports",
            f"{tmp}/reports",
            f"--alluredir={tmp}/allure",
            # The script makes no browser requests; benchmarks/browser_check.py measures those.
            "--deselect",
            "smoke/test_frontend_browser.py",
        ]
        script = [sys.executable, str(REPO / "benchmarks" / "_minimal_create_flow.py"), str(state)]
        collect = [
            sys.executable,
            "-c",
            "import sys, pytest; pytest.main(['smoke', '-m', 'create_flow', '--collect-only',"
            " '-q', '-p', 'no:cacheprovider']);"
            " heavy = [m for m in ('schemathesis', 'hypothesis') if m in sys.modules];"
            " print('HEAVY', heavy); sys.exit(1 if heavy else 0)",
        ]
        timed(script)  # warm caches once, so neither side pays for cold disk reads
        gate_s = [timed(gate) for _ in range(args.repeat)]
        script_s = [timed(script) for _ in range(args.repeat)]
        collect_s = [timed(collect) for _ in range(args.repeat)]
    gate_m, script_m = statistics.median(gate_s), statistics.median(script_s)
    print(f"gate   pytest smoke -m create_flow: median {gate_m:.2f}s  runs {fmt(gate_s)}")
    print(f"script bare httpx, same requests:   median {script_m:.2f}s  runs {fmt(script_s)}")
    print(f"ratio gate/script: {gate_m / script_m:.2f} (target <= 2.0)")
    print(
        f"collection of smoke/ (-m create_flow), schemathesis not imported: "
        f"median {statistics.median(collect_s):.2f}s"
    )


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
