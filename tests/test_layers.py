"""The engine's parts import one way, nothing imports in a circle, and the docs' table is the tree.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are checked by
import-linter, a maintained tool; this file runs it on the tree and on a copy with a planted
reverse import, and compares ``docs/architecture.md``'s module table with the files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "promorang_gate"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(
        REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_shipped_tree_keeps_every_import_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        # the HTTP client reaching up into the verdict: target -> decision
        (
            "target/http.py",
            "from promorang_gate.decision import verdict as _planted",
            "promorang_gate.target is not allowed to import promorang_gate.decision",
        ),
        # two modules of the contract importing each other
        (
            "contract/spec.py",
            "from promorang_gate.contract import runner as _planted",
            "No circle",
        ),
    ],
    ids=["reverse-import", "circle"],
)
def test_a_planted_import_against_the_layers_breaks_the_contract(
    tmp_path: Path, module: str, planted: str, broken: str
) -> None:
    root = _copy_tree(tmp_path)
    path = root / "src" / "promorang_gate" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{planted}  # noqa\n", encoding="utf-8")
    result = _lint(root)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout


def test_the_architecture_table_lists_exactly_the_modules_of_the_tree() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## The parts", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M))
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    assert documented == modules, {
        "in the tree, not in the table": sorted(modules - documented),
        "in the table, not in the tree": sorted(documented - modules),
    }


def test_every_subpackage_says_what_it_is_for_and_lists_its_modules() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        text = init.read_text(encoding="utf-8")
        assert text.startswith('"""'), f"{init} has no docstring"
        listed = re.search(r"__all__(?:: list\[str\])? = \[(.*?)\]", text, re.S)
        assert listed is not None, f"{init} declares no __all__"
