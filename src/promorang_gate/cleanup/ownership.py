"""What a gate run may delete: only what it can prove it created.

A deployment answering the wrong id or URL (a real class of bug) must not make the gate delete
someone else's row or object. Before deleting, the cleanup ledger, the end-of-run sweep and the
janitor read the stored thing and check, with the one tag grammar of ``tags.py``:

- a row: its title (or, where the case made the title invalid, its description) ends with
  ``[gate <run id>]`` and its ``created_at`` is not before the run started (less
  ``CLOCK_SKEW_S``: the database's clock and the gate's may differ a little). A row without
  ``created_at`` cannot be proven ours and is left alone;
- an object: its stored name carries ``gate-<run id>`` at the start of a path segment, or its
  stored bytes do (``tags.png_run_id``), and, when storage reports it, its ``created_at`` is not
  before the run started.

Each function returns None when the thing is the run's, else a :class:`NotOurs`: its reason,
and whether the stored thing is provably someone else's (another run's tag, or older than the
run: the deployment answered the id or URL of other data) or only carries no tag of this run.

The platform's ``created_at`` defaults to ``timezone('utc', now())``, a UTC wall time read in the
session's time zone: right under PostgREST and Supabase (UTC sessions, as in the sandbox's
gateway); a row written by a session in another zone looks shifted by its offset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from promorang_gate.cleanup import tags

__all__ = ["CLOCK_SKEW_S", "NotOurs", "object_problem", "parse_time", "row_problem"]

#: How far the database's clock may run behind the gate's (documented in architecture.md §2).
CLOCK_SKEW_S = 120.0


@dataclass(frozen=True)
class NotOurs:
    """Why a stored thing is not provably the run's."""

    reason: str
    #: True: another run's tag, or created before the run (the id or URL is of other data);
    #: False: it only carries no tag of this run, so the gate cannot tell whose it is.
    other_data: bool

    def __str__(self) -> str:
        return self.reason


def parse_time(value: object) -> dt.datetime | None:
    """A stored timestamp (datetime from psycopg, ISO text from REST) in UTC, or None."""
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str) and value.strip():
        try:
            stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _too_old(created_at: object, run_id: str, skew_s: float) -> NotOurs | None:
    started = tags.run_started_at(run_id)
    created = parse_time(created_at)
    if started is None:
        return NotOurs(f"{run_id!r} is not a run id", other_data=False)
    if created is None:
        reason = "it has no readable created_at, so this run cannot be proven to have created it"
        return NotOurs(reason, other_data=False)
    if created < started - dt.timedelta(seconds=skew_s):
        return NotOurs(
            f"it was created at {created.isoformat()}, before run {run_id} started"
            f" ({started.isoformat()})",
            other_data=True,
        )
    return None


def row_problem(
    title: object,
    created_at: object,
    run_id: str,
    *,
    description: object = None,
    skew_s: float = CLOCK_SKEW_S,
) -> NotOurs | None:
    """Why a stored row is not the run's (None: it is): the tag in its title, or else in its
    description."""
    found = tags.row_run_id(title, description)
    if found != run_id:
        if description is None:
            reason = f"its stored title does not end with {tags.title_tag(run_id)}"
        else:
            reason = (
                f"neither its stored title nor its description ends with {tags.title_tag(run_id)}"
            )
        too_old = _too_old(created_at, run_id, skew_s)
        return NotOurs(reason, other_data=found is not None or bool(too_old and too_old.other_data))
    return _too_old(created_at, run_id, skew_s)


def object_problem(
    name: str,
    run_id: str,
    created_at: object = None,
    *,
    data: bytes | None = None,
    skew_s: float = CLOCK_SKEW_S,
) -> NotOurs | None:
    """Why a stored object is not the run's (None: it is): the tag in its name, or else in its
    stored bytes (``data``, when they were read); ``created_at`` when storage gave one."""
    by_name = tags.object_run_id(name)
    by_bytes = tags.png_run_id(data) if data is not None else None
    if run_id not in (by_name, by_bytes):
        reason = (
            f"its stored name does not carry {tags.object_tag(run_id)} at the start of a path"
            " segment"
        )
        if data is not None:
            reason += " and its stored bytes do not carry it either"
        too_old = _too_old(created_at, run_id, skew_s) if created_at is not None else None
        other = by_name is not None or by_bytes is not None or bool(too_old and too_old.other_data)
        return NotOurs(reason, other_data=other)
    if created_at is None:
        return None
    return _too_old(created_at, run_id, skew_s)
