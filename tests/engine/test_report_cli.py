"""``promorang-gate report``: each way it cannot render is one line with its own exit code.
(Rendering itself, with the pinned Allure 3 and Node, is proven in
tests/suites/test_allure_report.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promorang_gate.reporting.report_render import RENDERED_MARK, Exit, clear_output

TOOLING = ("package.json", "package-lock.json", "allurerc.mjs", "scripts/allure-render.mjs")


@pytest.fixture
def checkout(tmp_path: Path, repo_root: Path) -> Path:
    """The report's tooling as the repository ships it, and one Allure result to render."""
    root = tmp_path / "gate"
    root.mkdir()
    for name in TOOLING:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo_root / name, root / name)
    results = root / "reports" / "allure-results"
    results.mkdir(parents=True)
    (results / "0-result.json").write_text('{"name": "t", "status": "passed"}', encoding="utf-8")
    return root


def _fake_tools(bindir: Path, node_version: str, npm_exit: int = 0) -> str:
    """A PATH holding only stand-ins for node, npm and npx."""
    bindir.mkdir()
    scripts = {
        "node": f"echo {node_version}",
        "npm": f"echo 'npm ERR! network unreachable' >&2; exit {npm_exit}",
        "npx": "exit 0",
    }
    for name, body in scripts.items():
        path = bindir / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(0o755)
    return str(bindir)


def _report(root: Path, path: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PATH": path}
    command = [sys.executable, "-m", "promorang_gate.cli", "report", "--rootdir", str(root)]
    proc = subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    return proc.returncode, proc.stdout, proc.stderr


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_without_node_it_says_so_in_one_line(checkout: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    code, out, err = _report(checkout, str(empty))
    assert code == Exit.NO_NODE == 4
    line = _one_line(err)
    assert line.startswith("promorang-gate: report: rendering the Allure report needs Node.js 20+")
    assert "not found: node, npm, npx" in line
    assert out == ""


def test_an_old_node_is_refused(checkout: Path, tmp_path: Path) -> None:
    code, _, err = _report(checkout, _fake_tools(tmp_path / "bin", "v18.19.0"))
    assert code == Exit.NO_NODE
    assert _one_line(err) == (
        "promorang-gate: report: Node.js v18.19.0 is too old: Allure 3 needs 20+"
    )


def test_no_results_is_its_own_exit_code(checkout: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-results"
    empty.mkdir()
    code, _, err = _report(checkout, os.environ["PATH"], "--results", str(empty))
    assert code == Exit.NO_RESULTS == 3
    assert _one_line(err) == (
        f"promorang-gate: report: no Allure results in {empty}: run the gate first (pytest"
        " writes them there) or give --results DIR"
    )


def test_a_failed_install_of_the_pinned_allure(checkout: Path, tmp_path: Path) -> None:
    code, _, err = _report(checkout, _fake_tools(tmp_path / "bin", "v20.11.1", npm_exit=1))
    assert code == Exit.FAILED == 5
    waiting, failed = err.splitlines()  # what it waits for, then the one-line failure
    assert waiting.startswith("promorang-gate: installing the pinned Allure ")
    assert waiting.endswith(" s)")
    assert failed == (
        f"promorang-gate: report: npm ci in {checkout} failed: npm ERR! network unreachable"
    )


def test_outside_the_repository_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = _report(tmp_path, os.environ["PATH"])
    assert code == Exit.USAGE == 2
    assert _one_line(err) == (
        f"promorang-gate: error: no package.json in {tmp_path}: run from the promorang-gate"
        " repository or give --rootdir"
    )


def test_the_tooling_is_pinned(repo_root: Path) -> None:
    manifest = json.loads((repo_root / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((repo_root / "package-lock.json").read_text(encoding="utf-8"))
    pinned = manifest["devDependencies"]["allure"]
    assert pinned[0].isdigit(), f"allure must be pinned exactly, not {pinned!r}"
    assert lock["packages"]["node_modules/allure"]["version"] == pinned


@pytest.mark.parametrize("site_files", [["notes.md"], ["index.html", "notes.md"]])
def test_an_output_that_is_no_report_is_never_emptied(
    checkout: Path, tmp_path: Path, site_files: list[str]
) -> None:
    # A web site's directory has an index.html too; only a report this command rendered
    # (marked when it was written) may be emptied.
    precious = tmp_path / "docs"
    precious.mkdir()
    for name in site_files:
        (precious / name).write_text("keep", encoding="utf-8")
    code, _, err = _report(checkout, os.environ["PATH"], "--output", str(precious))
    assert code == Exit.USAGE
    assert _one_line(err) == (
        f"promorang-gate: error: --output {precious}: exists and is no report rendered by"
        " promorang-gate; give another one"
    )
    assert sorted(p.name for p in precious.iterdir()) == site_files


def test_a_report_this_command_rendered_is_emptied_before_the_next(tmp_path: Path) -> None:
    earlier = tmp_path / "allure-report"
    earlier.mkdir()
    (earlier / RENDERED_MARK).write_text("rendered\n", encoding="utf-8")
    (earlier / "index.html").write_text("old", encoding="utf-8")
    clear_output(earlier)
    assert not earlier.exists()
