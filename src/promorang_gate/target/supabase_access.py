"""Service-role Supabase client and database connection for a target (heavy imports are lazy)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import httpx

from promorang_gate.target.readonly_db import ReadOnlyConnection

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.target.environments import Target

__all__ = ["connect_db", "connect_db_for_writes", "make_supabase"]


def make_supabase(target: Target, http: httpx.Client) -> supabase.Client:
    """A supabase-py client with the service-role key whose traffic goes through ``http``.

    ``http`` is a guarded client (``GateHttp.client``): PostgREST and Storage requests get its
    write guard, its timeout and its redacted evidence.
    """
    from supabase import create_client
    from supabase.lib.client_options import SyncClientOptions

    options = SyncClientOptions(
        httpx_client=http,
        auto_refresh_token=False,
        persist_session=False,
        postgrest_client_timeout=target.request_timeout_s,
        storage_client_timeout=max(1, math.ceil(target.request_timeout_s)),
        function_client_timeout=max(1, math.ceil(target.request_timeout_s)),
    )
    return create_client(target.supabase_url, target.service_role_key, options=options)


def connect_db(
    target: Target,
) -> psycopg.Connection[tuple[object, ...]] | ReadOnlyConnection | None:
    """The target's database: autocommit when writes are allowed, else read-only in a way a
    test cannot undo (``ReadOnlyConnection``); None without a database URL."""
    if not target.database_url:
        return None
    if target.writes_allowed and not target.protected:
        return connect_db_for_writes(target)
    import psycopg

    # The server refuses writes too, for whatever reaches the session outside the wrapper.
    conn = psycopg.connect(
        target.database_url,
        autocommit=True,
        connect_timeout=_connect_timeout(target),
        options=f"-c default_transaction_read_only=on {_time_limits(target)}",
    )
    return ReadOnlyConnection(conn, target.name)


def connect_db_for_writes(target: Target) -> psycopg.Connection[tuple[object, ...]] | None:
    """Autocommit connection for the cleanup of an environment that allows writes."""
    if not target.database_url:
        return None
    if not target.writes_allowed or target.protected:
        raise RuntimeError(f"no writes on {target.name}: no writable database connection")
    import psycopg

    return psycopg.connect(
        target.database_url,
        autocommit=True,
        connect_timeout=_connect_timeout(target),
        options=_time_limits(target),
    )


def _connect_timeout(target: Target) -> int:
    return max(1, math.ceil(min(target.request_timeout_s, target.request_deadline_s)))


def _time_limits(target: Target) -> str:
    """A statement, or a wait for a lock, ends with the env's request deadline like an HTTP
    request does: a cleanup blocked by a lock must not hold the run for ever."""
    ms = max(1, math.ceil(target.request_deadline_s * 1000))
    return f"-c statement_timeout={ms} -c lock_timeout={ms}"
