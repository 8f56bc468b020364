"""Keys of the gate's state in ``config.stash`` (never attributes on ``config``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the keys' types only: this module sits below every part that uses it
    from promorang_gate.decision.checklists import Catalog, SignOff
    from promorang_gate.release.app_repo import ReleaseDate
    from promorang_gate.reporting.reports import GateReporter
    from promorang_gate.secrets.redaction import Redactor
    from promorang_gate.target.environments import EnvSettings
    from promorang_gate.target.sandbox_target import SandboxProvider, TargetRegistry

__all__ = [
    "CHECKLISTS",
    "ENV_NAMES",
    "GATE_NAMES",
    "REDACTOR",
    "RELEASE_DATE",
    "REPORTER",
    "REPORTS_DIR",
    "RUN_ID",
    "SANDBOX",
    "SETTINGS",
    "SIGNOFFS",
    "TARGETS",
]

#: name -> Target, in selection order. A mapping whose embedded (sandbox) entry is resolved on
#: first access: ``config.stash[TARGETS]["sandbox"]`` starts or attaches to the sandbox once.
TARGETS: pytest.StashKey[TargetRegistry] = pytest.StashKey()
#: The run id shared by the controller and every xdist worker, e.g. ``gr20261125t164700-3fa2c1``.
RUN_ID: pytest.StashKey[str] = pytest.StashKey()
REDACTOR: pytest.StashKey[Redactor] = pytest.StashKey()
CHECKLISTS: pytest.StashKey[Catalog] = pytest.StashKey()
#: env -> item id -> sign-off.
SIGNOFFS: pytest.StashKey[dict[str, dict[str, SignOff]]] = pytest.StashKey()
#: Selected environment names, in selection order.
ENV_NAMES: pytest.StashKey[list[str]] = pytest.StashKey()
#: Resolved settings per environment (sources for the report header).
SETTINGS: pytest.StashKey[dict[str, EnvSettings]] = pytest.StashKey()
SANDBOX: pytest.StashKey[SandboxProvider] = pytest.StashKey()
#: env -> the name of the gate that judges it (on the controller and every worker).
GATE_NAMES: pytest.StashKey[dict[str, str]] = pytest.StashKey()
#: The reports directory (gate files, ``history/<env>.jsonl``: the baseline).
REPORTS_DIR: pytest.StashKey[Path] = pytest.StashKey()
#: The controller's report writer (absent on xdist workers).
REPORTER: pytest.StashKey[GateReporter] = pytest.StashKey()
#: The release whose notes the launch checklist reads (``--release-date``, default today).
RELEASE_DATE: pytest.StashKey[ReleaseDate] = pytest.StashKey()
