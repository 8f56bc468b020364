"""The project's habits, checked with the project's tests: ruff and mypy clean. (The smoke
suite's freedom from schemathesis is proven in tests/contract/test_contract_suite.py.)"""

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
