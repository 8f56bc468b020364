"""The project's habits, checked with the project's tests: ruff and mypy clean, and the smoke
suite's collection stays free of the contract suite's heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOLS = Path(sys.executable).parent
LINTED = ["src", "tests", "smoke", "contract", "benchmarks"]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = run([str(TOOLS / "ruff"), "check", *LINTED])
    assert result.returncode == 0, result.stdout + result.stderr
    result = run([str(TOOLS / "ruff"), "format", "--check", *LINTED])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    result = run([str(TOOLS / "mypy")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_collecting_the_smoke_suite_does_not_import_schemathesis() -> None:
    probe = (
        "import sys, pytest\n"
        "code = pytest.main(['smoke', 'contract', '-m', 'create_flow and not contract',"
        " '--collect-only', '-q', '-p', 'no:cacheprovider'])\n"
        "heavy = sorted(m for m in ('schemathesis', 'hypothesis') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(0 if not heavy else 1)\n"
    )
    result = run([sys.executable, "-c", probe])
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
