"""A failed check's traceback without the libraries' inner frames.

A check that fails inside a library (httpx, httpcore, requests, schemathesis, Playwright) carried
every frame between its own code and the raise into the terminal, JUnit, Allure and the gate
file, and pytest parsed each of those files' source to print them: against a target that never
answers, formatting 42 such failures was a tenth of the run's CPU (4 s of 45). The gate's
failures say what is wrong in their message; the frames kept are the suites' and the engine's,
and the frame that raised. ``--full-trace`` keeps them all.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

__all__ = ["trim_library_frames"]

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
