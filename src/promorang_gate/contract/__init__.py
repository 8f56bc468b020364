"""The contract suite's machinery: the OpenAPI spec read, sent and checked with schemathesis.

Two floors, so that collecting any suite stays light:

- ``spec`` and ``errors`` need only pyyaml; the suites import them at collection;
- ``transport``, ``checks``, ``cases``, ``failures``, ``lifecycle`` and ``runner`` import
  schemathesis, hypothesis and requests. Only the contract suite's fixtures import them, when a
  contract test runs (``pytest -m create_flow smoke`` never loads them).
"""

from __future__ import annotations

__all__: list[str] = []
