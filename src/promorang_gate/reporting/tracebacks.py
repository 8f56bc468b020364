"""A failed check's traceback without the libraries' inner frames.

A check that fails inside a library (httpx, httpcore, requests, schemathesis, Playwright) carried
every frame between its own code and the raise into the terminal, JUnit, Allure and the gate
file, and pytest parsed each of those files' source to print them: against a target that never
answers, formatting 42 such failures was a tenth of the run's CPU (4 s of 45). The gate's
failures say what is wrong in their message; the frames kept are the suites' and the engine's,
and the frame that raised. ``--full-trace`` keeps them all.

Each kept frame is printed with its whole statement, which pytest finds by parsing the frame's
file anew for every failure: against a dead target, formatting its 50 failures was a quarter of
the run's CPU, half of it parsing the same few files again. During a run the files do not
change, so each file's statements are found once (``share_statement_ranges``).
"""

from __future__ import annotations

import ast
import sysconfig
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import pytest

__all__ = ["share_statement_ranges", "trim_library_frames", "unshare_statement_ranges"]

_OURS = ("promorang_gate", "promorang_sandbox")


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(str(Path(root).resolve()) for root in roots)


_LIBRARIES = _library_roots()


def _is_library(tb: TracebackType) -> bool:
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    if module.split(".", 1)[0] in _OURS:
        return False
    return tb.tb_frame.f_code.co_filename.startswith(_LIBRARIES)


def trim_library_frames(item: pytest.Item, call: pytest.CallInfo[Any]) -> None:
    """Drop the library frames of ``call``'s traceback, but the last (where it was raised).
    pytest cuts a traceback by following its frames' links (``tb_next``), so the kept frames
    are linked anew; the exception itself keeps its own traceback."""
    excinfo = call.excinfo
    if excinfo is None or item.config.getoption("fulltrace", False):
        return
    frames: list[TracebackType] = []
    tb: TracebackType | None = excinfo.tb
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    kept = [t for t in frames[:-1] if not _is_library(t)] + frames[-1:]
    if len(kept) == len(frames):
        return
    linked: TracebackType | None = None
    for raw in reversed(kept):
        linked = TracebackType(linked, raw.tb_frame, raw.tb_lasti, raw.tb_lineno)
    assert linked is not None
    excinfo.traceback = type(excinfo.traceback)(linked)  # pytest's Traceback of the kept frames


_StatementRange = Callable[..., tuple[ast.AST, int, int]]
_ORIGINAL = pytest.StashKey[_StatementRange]()
_NAME = "getstatementrange_ast"


def _callers() -> tuple[ModuleType, ...]:
    """pytest's modules calling ``getstatementrange_ast`` (private: none if pytest moved them)."""
    try:
        from _pytest._code import code, source
    except ImportError:
        return ()
    modules = (source, code)
    return modules if all(hasattr(module, _NAME) for module in modules) else ()


class _SharedStatementRanges:
    """pytest's ``getstatementrange_ast`` remembered for the run: one parse per file text, one
    answer per (text, line). Given the same source and line it answers what pytest would."""

    def __init__(self, original: _StatementRange) -> None:
        self.original = original
        self.trees: dict[str, ast.AST] = {}
        self.ranges: dict[tuple[str, int, bool], tuple[ast.AST, int, int]] = {}

    def __call__(
        self, lineno: int, source: Any, assertion: bool = False, astnode: ast.AST | None = None
    ) -> tuple[ast.AST, int, int]:
        text = "\n".join(source.lines)
        key = (text, lineno, assertion)
        found = self.ranges.get(key)
        if found is None:
            tree = self.trees.get(text, astnode)
            found = self.ranges[key] = self.original(lineno, source, assertion, tree)
            self.trees[text] = found[0]
        return found


def share_statement_ranges(config: pytest.Config) -> None:
    """For this run, find each file's statements once for all its failures' tracebacks (the
    function is called under two names: pytest's formatter's and its ``Source``'s)."""
    modules = _callers()
    if not modules or isinstance(getattr(modules[0], _NAME), _SharedStatementRanges):
        return  # another pytest, or an outer run in this process already shares them
    original = getattr(modules[0], _NAME)
    config.stash[_ORIGINAL] = original
    shared = _SharedStatementRanges(original)
    for module in modules:
        setattr(module, _NAME, shared)


def unshare_statement_ranges(config: pytest.Config) -> None:
    original = config.stash.get(_ORIGINAL, None)
    if original is not None:
        for module in _callers():
            setattr(module, _NAME, original)
