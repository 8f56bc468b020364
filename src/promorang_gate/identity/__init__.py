"""What is under test: the build the API, the frontend and the database are running, read from
the deployment itself, and whether it is the release's commit (item ``release.identity``)."""

from __future__ import annotations

from promorang_gate.identity.deployed import (
    DeployedIdentity,
    identity_of,
    read_api_build,
    read_bundle,
    read_migration_version,
    same_commit,
)

__all__ = [
    "DeployedIdentity",
    "identity_of",
    "read_api_build",
    "read_bundle",
    "read_migration_version",
    "same_commit",
]
