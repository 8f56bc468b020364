"""Keys of the gate's state in ``config.stash`` (never attributes on ``config``)."""

from __future__ import annotations

import pytest

from promorang_gate.app_repo import ReleaseDate
from promorang_gate.checklists import Catalog, SignOff
from promorang_gate.environments import EnvSettings
from promorang_gate.redaction import Redactor
from promorang_gate.reports import GateReporter
from promorang_gate.sandbox_target import SandboxProvider, TargetRegistry

__all__ = [
    "CHECKLISTS",
    "ENV_NAMES",
    "REDACTOR",
    "RELEASE_DATE",
    "REPORTER",
    "RUN_ID",
    "SANDBOX",
    "SETTINGS",
    "SIGNOFFS",
    "TARGETS",
]

#: name -> Target, in selection order. A mapping whose embedded (sandbox) entry is resolved on
#: first access: ``config.stash[TARGETS]["sandbox"]`` starts or attaches to the sandbox once.
TARGETS = pytest.StashKey[TargetRegistry]()
#: The run id shared by the controller and every xdist worker, e.g. ``gr20261125t164700-3fa2c1``.
RUN_ID = pytest.StashKey[str]()
REDACTOR = pytest.StashKey[Redactor]()
CHECKLISTS = pytest.StashKey[Catalog]()
#: env -> item id -> sign-off.
SIGNOFFS = pytest.StashKey[dict[str, dict[str, SignOff]]]()
#: Selected environment names, in selection order.
ENV_NAMES = pytest.StashKey[list[str]]()
#: Resolved settings per environment (sources for the report header).
SETTINGS = pytest.StashKey[dict[str, EnvSettings]]()
SANDBOX = pytest.StashKey[SandboxProvider]()
#: The controller's report writer (absent on xdist workers).
REPORTER = pytest.StashKey[GateReporter]()
#: The release whose notes the launch checklist reads (``--release-date``, default today).
RELEASE_DATE = pytest.StashKey[ReleaseDate]()
