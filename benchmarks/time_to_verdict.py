"""Time to verdict, side by side in one run, each figure against its target.

Every figure is the median of ``--repeat`` runs, with min and max, measured on this machine:

- a kept-alive request to each of the sandbox's three servers (target <= 3 ms);
- the bare httpx script making the Create flow's essential requests (the baseline);
- ``pytest -m create_flow smoke`` attached to a running sandbox, without the browser checks
  (target <= 2 s and <= 2.0 x the bare script);
- the browser checks' cost (the same with them);
- the full default run attached; ``-n 2`` against serial (target: no slower);
- the README's main job, ``pytest`` with the sandbox started for it (target <= 8 s);
- the contract part alone (target <= 5 s for the checks of issue 5; it grows with the checks);
- Ctrl-C of a run that started its own sandbox, to its exit with the sandbox stopped and its
  database dropped (target <= 2 s);
- growth: the SLO sample (20, 100, 400 uploads) and the number of environments (1, 2, 3
  targets, serial and ``-n 2``).

    .venv/bin/python benchmarks/time_to_verdict.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from promorang_sandbox import SandboxState, start_sandbox

REPO = Path(__file__).resolve().parent.parent
BROWSER_CHECKS = "smoke/test_frontend_browser.py"
BARE = "bare httpx script, the same essential requests"
SMOKE = "pytest -m create_flow smoke, attached, no browser checks"


@dataclass
class Figure:
    label: str
    values: list[float]
    unit: str = "s"
    target: str = ""

    def line(self) -> str:
        scale = 1000.0 if self.unit == "ms" else 1.0
        median, low, high = (
            v * scale for v in (statistics.median(self.values), min(self.values), max(self.values))
        )
        spread = f"(min {low:.2f}, max {high:.2f})"
        return (
            f"{self.label:<60} median {median:7.2f} {self.unit}  {spread}  {self.target}".rstrip()
        )


def _request_latency(state: SandboxState) -> list[Figure]:
    key = state.service_role_key
    servers = (
        ("API GET /api/health", state.api_url, "/api/health", {}),
        (
            "gateway GET /rest/v1/content_items",
            state.supabase_url,
            "/rest/v1/content_items?select=id&limit=1",
            {"apikey": key, "Authorization": f"Bearer {key}"},
        ),
        ("frontend GET /create", state.frontend_url, "/create", {}),
    )
    figures = []
    for label, base, path, headers in servers:
        with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
            client.get(path)
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                client.get(path)
                samples.append(time.perf_counter() - started)
        figure = Figure(f"kept-alive request, {label}", samples, "ms", "target <= 3 ms")
        figures.append(figure)
    return figures


class Runner:
    """Runs commands against the sandbox, repeated; the gate's own files go to a temp dir."""

    def __init__(self, state_file: Path, tmp: Path, repeat: int) -> None:
        self.state_file = state_file
        self.tmp = tmp
        self.repeat = repeat

    def pytest(self, *args: str) -> list[str]:
        reports = self.tmp / f"reports-{time.monotonic_ns()}"
        return [
            sys.executable,
            "-m",
            "pytest",
            *args,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--gate-reports={reports}",
            f"--alluredir={reports}/allure",
        ]

    def time(
        self,
        command: list[str],
        env: Mapping[str, str] | None = None,
        attach: bool = True,
        narrowed: bool = True,
    ) -> list[float]:
        """Seconds per run; a narrowed run may block by design (exit 1), a whole one may not."""
        base = {k: v for k, v in os.environ.items() if k != "PROMORANG_SANDBOX_STATE"}
        if attach:
            base["PROMORANG_SANDBOX_STATE"] = str(self.state_file)
        runs = []
        for _ in range(self.repeat):
            started = time.perf_counter()
            done = subprocess.run(
                command, cwd=REPO, env={**base, **(env or {})}, capture_output=True, check=False
            )
            runs.append(time.perf_counter() - started)
            if done.returncode not in ((0, 1) if narrowed else (0,)):
                tail = (done.stdout + done.stderr)[-3000:].decode(errors="replace")
                sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{tail}")
        return runs


# A run that starts its own sandbox, says so in a file, then holds until interrupted.
_HOLDING_TEST = """
import threading
from pathlib import Path
import pytest

@pytest.mark.checklist("health.api")
def test_holds(gate_target):
    Path(FLAG).write_text(gate_target.api_url)
    threading.Event().wait(120)
"""


def _checklists_without_checks(target: Path) -> None:
    """The shipped checklists, their declared checks left out: the holding test may claim."""
    target.mkdir(parents=True)
    for source in (REPO / "checklists").glob("*.yaml"):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        for item in data.get("items", []) if isinstance(data, dict) else []:
            item.pop("checks", None)
            item.pop("writes", None)
        (target / source.name).write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")


def _sigint_interrupts() -> None:
    # A benchmark started as a background job has SIGINT ignored, and so would the run.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ctrl_c(repeat: int, workdir: Path) -> list[float]:
    """Seconds from SIGINT to the exit of a run holding its own sandbox."""
    runs = []
    base = {k: v for k, v in os.environ.items() if k != "PROMORANG_SANDBOX_STATE"}
    for attempt in range(repeat):
        folder = workdir / f"ctrl-c-{attempt}"
        _checklists_without_checks(folder / "checklists")
        flag = folder / "flag"
        (folder / "pytest.ini").write_text("[pytest]\n")
        (folder / "test_hold.py").write_text(f"FLAG = {str(flag)!r}\n" + _HOLDING_TEST)
        command = [sys.executable, "-m", "pytest", "test_hold.py", "-p", "no:cacheprovider"]
        process = subprocess.Popen(
            command, cwd=folder, env=base, stdout=subprocess.DEVNULL, preexec_fn=_sigint_interrupts
        )
        deadline = time.monotonic() + 60
        while not flag.exists():  # polling a file another process writes, with a deadline
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit("the holding run for the Ctrl-C figure never got going")
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        started = time.perf_counter()
        process.wait(timeout=60)
        runs.append(time.perf_counter() - started)
    return runs


def _env_targets(state: SandboxState, names: Sequence[str]) -> dict[str, str]:
    """Point extra environments at the same sandbox (staging and local)."""
    env: dict[str, str] = {}
    for name in names:
        prefix = f"GATE_{name.upper()}_"
        env.update(
            {
                f"{prefix}API_URL": state.api_url,
                f"{prefix}FRONTEND_URL": state.frontend_url,
                f"{prefix}SUPABASE_URL": state.supabase_url,
                f"{prefix}SERVICE_ROLE_KEY": state.service_role_key,
                f"{prefix}CREATOR_TOKEN": state.creator_token,
                f"{prefix}OTHER_USER_TOKEN": state.other_user_token,
                f"{prefix}DATABASE_URL": state.database_url,
                f"{prefix}APP_REPO": state.app_repo,
            }
        )
    return env


def _figures(runner: Runner, state: SandboxState, quick: bool) -> list[Figure]:
    bare = [sys.executable, str(REPO / "benchmarks" / "_minimal_create_flow.py")]
    bare.append(str(runner.state_file))
    runner.time(bare)  # warm the disk cache once, so neither side pays for cold reads
    figures = [Figure(BARE, runner.time(bare))]
    smoke = runner.pytest("smoke", "-m", "create_flow", "--deselect", BROWSER_CHECKS)
    figures.append(
        Figure(
            SMOKE,
            runner.time(smoke),
            target="target <= 2 s and <= 2.0 x bare",
        )
    )
    with_browser = runner.time(runner.pytest("smoke", "-m", "create_flow"))
    figures.append(Figure("pytest -m create_flow smoke, attached, with the browser", with_browser))
    whole = runner.time(runner.pytest(), narrowed=False)
    figures.append(Figure("pytest (full default run), attached", whole))
    figures.append(
        Figure(
            "pytest -n 2 (full default run), attached",
            runner.time(runner.pytest("-n", "2"), narrowed=False),
            target="target: no slower than serial",
        )
    )
    figures.append(
        Figure(
            "pytest: the README's main job, sandbox started for it",
            runner.time(runner.pytest(), attach=False, narrowed=False),
            target="target <= 8 s",
        )
    )
    figures.append(
        Figure(
            "pytest contract (the contract part alone), attached",
            runner.time(runner.pytest("contract")),
            target="target <= 5 s (issue-5 checks); budget 60 s",
        )
    )
    figures.append(
        Figure(
            "Ctrl-C of a run with its own sandbox, to its exit",
            _ctrl_c(runner.repeat, runner.tmp),
            target="target <= 2 s",
        )
    )
    if quick:
        return figures
    for uploads in (20, 100, 400):
        env = {"GATE_SANDBOX_SLO_UPLOADS": str(uploads)}
        slo = runner.time(runner.pytest("smoke/test_slo.py"), env=env)
        figures.append(Figure(f"growth: smoke/test_slo.py with {uploads} uploads", slo))
    for envs in (["sandbox"], ["sandbox", "staging"], ["sandbox", "staging", "local"]):
        env = _env_targets(state, envs[1:])
        selection = ["--env", ",".join(envs), "-m", "create_flow"]
        for workers in ([], ["-n", "2"]):
            label = f"growth: -m create_flow, {len(envs)} env(s){' -n 2' if workers else ''}"
            figures.append(Figure(label, runner.time(runner.pytest(*selection, *workers), env)))
    return figures


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="leave out the growth figures")
    args = parser.parse_args(argv)
    with start_sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        state_file = Path(tmp) / "state.json"
        state_file.write_text(sandbox.state.to_json())
        runner = Runner(state_file, Path(tmp), args.repeat)
        figures = _request_latency(sandbox.state) + _figures(runner, sandbox.state, args.quick)
    load = os.getloadavg()[0]
    out(f"time to verdict: {args.repeat} runs each, {os.cpu_count()} cores, load {load:.1f}")
    for figure in figures:
        out(figure.line())
    by_label = {f.label: statistics.median(f.values) for f in figures}
    bare = by_label[BARE]
    smoke = by_label[SMOKE]
    out(f"ratio pytest -m create_flow smoke / bare script: {smoke / bare:.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()
