"""Service-role Supabase client and database connection for a target (heavy imports are lazy)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.environments import Target

__all__ = ["connect_db", "make_supabase"]


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


def connect_db(target: Target) -> psycopg.Connection[tuple[object, ...]] | None:
    """Autocommit connection to the target's database, read-only unless writes are allowed."""
    if not target.database_url:
        return None
    import psycopg

    timeout = max(1, math.ceil(target.request_timeout_s))
    if target.writes_allowed:
        return psycopg.connect(target.database_url, autocommit=True, connect_timeout=timeout)
    # Enforced by the server too: autocommit statements never see psycopg's read-only BEGIN.
    conn = psycopg.connect(
        target.database_url,
        autocommit=True,
        connect_timeout=timeout,
        options="-c default_transaction_read_only=on",
    )
    conn.read_only = True
    return conn
