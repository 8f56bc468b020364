"""Reaching the target: environments and profiles (``profiles/*.toml``), settings validation, the
bounded HTTP client, its write guard and its bound per origin, readiness and preflight, Supabase
and database access (the read-only wrapper included), read-back of what was stored, and the
sandbox as a target.
"""

from __future__ import annotations

# Modules, not names: importing the package must not load them all (heavy imports stay lazy).
__all__ = [
    "bounded",
    "breaker",
    "connections",
    "credentials",
    "environments",
    "frontend_bundle",
    "http",
    "preflight",
    "profiles",
    "protection",
    "readiness",
    "readonly_db",
    "sandbox_target",
    "signin",
    "stored",
    "supabase_access",
    "validation",
    "vercel_bypass",
]
