"""A Supabase-compatible gateway (PostgREST and Storage API subsets) over a real PostgreSQL."""

from __future__ import annotations

from .app import create_gateway_app

__all__ = ["create_gateway_app"]
