"""What a gate run may delete: only what it can prove it created.

A deployment answering the wrong id or URL (a real class of bug) must not make the gate delete
someone else's row or object. Before deleting, the cleanup ledger, the end-of-run sweep and the
janitor read the stored thing and check, with the one tag grammar of ``tags.py``:

- a row: its title ends with ``[gate <run id>]`` and its ``created_at`` is not before the run
  started (less ``CLOCK_SKEW_S``: the database's clock and the gate's may differ a little). A
  row without ``created_at`` cannot be proven ours and is left alone;
- an object: its stored name carries ``gate-<run id>`` at the start of a path segment and, when
  storage reports it, its ``created_at`` is not before the run started.

Each function returns None when the thing is the run's, else the reason it is not.

The platform's ``created_at`` defaults to ``timezone('utc', now())``, a UTC wall time read in the
session's time zone: right under PostgREST and Supabase (UTC sessions, as in the sandbox's
gateway); a row written by a session in another zone looks shifted by its offset.
"""

from __future__ import annotations

import datetime as dt

from promorang_gate.cleanup import tags

__all__ = ["CLOCK_SKEW_S", "object_problem", "parse_time", "row_problem"]

#: How far the database's clock may run behind the gate's (documented in architecture.md §2).
CLOCK_SKEW_S = 120.0


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


def _too_old(created_at: object, run_id: str, skew_s: float) -> str | None:
    started = tags.run_started_at(run_id)
    created = parse_time(created_at)
    if started is None:
        return f"{run_id!r} is not a run id"
    if created is None:
        return "it has no readable created_at, so this run cannot be proven to have created it"
    if created < started - dt.timedelta(seconds=skew_s):
        return (
            f"it was created at {created.isoformat()}, before run {run_id} started"
            f" ({started.isoformat()})"
        )
    return None


def row_problem(
    title: object, created_at: object, run_id: str, *, skew_s: float = CLOCK_SKEW_S
) -> str | None:
    """Why a stored row is not the run's (None: it is)."""
    if not isinstance(title, str) or tags.title_run_id(title) != run_id:
        return f"its stored title does not end with {tags.title_tag(run_id)}"
    return _too_old(created_at, run_id, skew_s)


def object_problem(
    name: str, run_id: str, created_at: object = None, *, skew_s: float = CLOCK_SKEW_S
) -> str | None:
    """Why a stored object is not the run's (None: it is); ``created_at`` when storage gave one."""
    if tags.object_run_id(name) != run_id:
        return (
            f"its stored name does not carry {tags.object_tag(run_id)} at the start of a path"
            " segment"
        )
    if created_at is None:
        return None
    return _too_old(created_at, run_id, skew_s)
