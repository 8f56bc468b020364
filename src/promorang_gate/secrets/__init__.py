"""Keeping secrets out of every output: the ``Redactor`` knows each secret and its parts in every
encoding a target or a library may echo them in. The lowest floor but the shared modules: every
part that writes or raises text uses it.
"""

from __future__ import annotations

# Modules, not names: importing the package must not load them all (heavy imports stay lazy).
__all__ = ["redaction"]
