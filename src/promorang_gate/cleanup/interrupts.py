"""SIGTERM ends a run as Ctrl-C does. CI systems cancel a job with SIGTERM (GitLab, Jenkins,
Kubernetes; GitHub Actions after its SIGINT), and a run killed outright skips its teardown: what
it created stays on the target until the janitor runs, and the migration check's scratch
database stays on its server. Raised as KeyboardInterrupt, the signal lets pytest tear down
(cleanup ledgers, scratch database, sandbox) and end as interrupted, which writes no verdict
file."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest

_INSTALLED = pytest.StashKey[bool]()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the run at once
    raise KeyboardInterrupt


def install(config: pytest.Config) -> None:
    """Only over the default action: a handler someone else installed (a wrapper, a runner)
    stands. Signals can be handled only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    config.stash[_INSTALLED] = True


def uninstall(config: pytest.Config) -> None:
    """Back to the default action once the run is over (pytest may run again in this process)."""
    if not config.stash.get(_INSTALLED, False):
        return
    if signal.getsignal(signal.SIGTERM) is _raise_interrupt:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    config.stash[_INSTALLED] = False
