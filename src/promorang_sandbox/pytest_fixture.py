"""The ``promorang_sandbox`` session fixture: one started sandbox, stopped at session end.

Use it with ``pytest_plugins = ["promorang_sandbox.pytest_fixture"]`` in a root conftest, or
import the fixture into a conftest. ``PROMORANG_SANDBOX_STATE`` attaches to a running sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .launcher import SandboxHandle, start_sandbox

STATE_ENV = "PROMORANG_SANDBOX_STATE"


@pytest.fixture(scope="session")
def promorang_sandbox() -> Iterator[SandboxHandle]:
    """A healthy sandbox shared by the session (started in a subprocess, ephemeral ports)."""
    state_file = os.environ.get(STATE_ENV)
    handle = SandboxHandle.attach(state_file) if state_file else start_sandbox(ready_timeout_s=60)
    try:
        yield handle
    finally:
        handle.stop()
