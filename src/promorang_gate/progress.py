"""What a wait longer than a moment shows: what it waits for and the time left. On a terminal
one line rewritten in place; elsewhere (CI logs) a plain line every few seconds."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["QUIET_S", "Waiting"]

#: A wait shorter than this shows nothing.
QUIET_S = 2.0
#: How often a plain (non-terminal) line is written.
PLAIN_EVERY_S = 5.0


class Waiting:
    """``tick()`` while waiting, ``done()`` after; prints nothing for the first ``QUIET_S``."""

    def __init__(self, what: str, budget_s: float, stream: TextIO | None = None) -> None:
        self.what = what
        self.budget_s = budget_s
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last: float | None = None
        self._in_place = False
        try:
            self._tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def tick(self) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < QUIET_S:
            return
        if not self._tty and self._last is not None and now - self._last < PLAIN_EVERY_S:
            return
        self._last = now
        left = max(0.0, self.budget_s - elapsed)
        line = f"promorang-gate: waiting for {self.what} ({left:.0f} s left of {self.budget_s:g} s)"
        if self._tty:
            self.stream.write("\r\x1b[2K" + line)
            self._in_place = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self._in_place:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._in_place = False
