"""The run tag: how everything a gate run creates is marked, and the one grammar that reads it.

Creation, the cleanup ledger, the end-of-run sweep and the janitor all use these functions, so
that what one writes the others recognise, and nothing else:

- a content title carries ``[gate <run id>]`` only as its suffix;
- an object path carries ``gate-<run id>`` only at the start of a path segment (the platform
  prefixes uploaded file names with ``<uuid v4>-``, which the grammar allows in front).

Look-alikes such as ``Investigate [gate gr…] regression`` or ``delegate-gr…png`` never match.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "RUN_ID_PATTERN",
    "is_run_id",
    "object_run_id",
    "object_tag",
    "run_started_at",
    "tagged_title",
    "title_run_id",
    "title_tag",
]

RUN_ID_PATTERN = r"gr\d{8}t\d{6}-[0-9a-f]{6}"
_RUN_ID = re.compile(rf"^(?:{RUN_ID_PATTERN})$")
_TITLE = re.compile(rf"\[gate ({RUN_ID_PATTERN})\]$")
_UUID_PREFIX = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-)?"
_SEGMENT = re.compile(rf"^{_UUID_PREFIX}gate-({RUN_ID_PATTERN})(?:[-._]|$)")


def is_run_id(text: str) -> bool:
    return bool(_RUN_ID.match(text))


def title_tag(run_id: str) -> str:
    return f"[gate {run_id}]"


def tagged_title(text: str, run_id: str) -> str:
    """``text`` with the run's tag as its suffix (an older tag of the same run is not doubled)."""
    tag = title_tag(run_id)
    base = text[: -len(tag)].rstrip() if text.endswith(tag) else text.rstrip()
    return f"{base} {tag}" if base else tag


def title_run_id(title: str) -> str | None:
    """The run id of a title tagged by the gate, or None."""
    match = _TITLE.search(title)
    return match.group(1) if match else None


def object_tag(run_id: str) -> str:
    """Prefix of every file name and folder a run creates in storage: ``gate-<run id>``."""
    return f"gate-{run_id}"


def object_run_id(path: str) -> str | None:
    """The run id tagging an object path (any segment, at its start), or None."""
    for segment in path.split("/"):
        match = _SEGMENT.match(segment)
        if match:
            return match.group(1)
    return None


def run_started_at(run_id: str) -> dt.datetime | None:
    """The UTC second a run id encodes (``gr20261125t164700-…``), or None."""
    if not is_run_id(run_id):
        return None
    try:
        stamp = dt.datetime.strptime(run_id[2:17], "%Y%m%dt%H%M%S")
    except ValueError:
        return None
    return stamp.replace(tzinfo=dt.UTC)
