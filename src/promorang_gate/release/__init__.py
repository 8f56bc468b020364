"""The release under test, read from the application's repository: its checkout, its
migrations (applied from scratch to a scratch database, compared with the target's ledger) and
its launch evidence (API docs, rollback plan).
"""

from __future__ import annotations

# Modules, not names: importing the package must not load them all (heavy imports stay lazy).
__all__ = ["app_repo", "launch_evidence", "migration_chain", "migrations", "scratch"]
