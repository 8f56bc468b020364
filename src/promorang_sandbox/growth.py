"""The API routes the Growth Hub page loads (CONTRACT §7): the signed-in user from the database,
and the Growth Hub lists (channels, staking positions, funding projects, shield policies) as
fixed reference data. Paths and envelopes follow the platform's ``backend/api/growth.js``;
like its router, every route wants a valid bearer token.

Fault ``growth_hub_api_missing``: the growth router is not mounted (as in the platform's
``api/index.js``), so ``/api/growth/*`` answers the API's own 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api_common import ApiError, guarded
from .auth import authenticate

if TYPE_CHECKING:
    from .api_state import PromorangApi

Handler = Callable[[Request], Awaitable[Response]]
NOT_MOUNTED = {"error": "Not Found", "message": "The requested API endpoint does not exist"}
USER_COLUMNS = (
    "id,email,username,display_name,user_type,user_tier,points_balance,keys_balance,"
    "gems_balance,gold_collected,avatar_url,created_at,updated_at"
)

CHANNELS: tuple[dict[str, Any], ...] = (
    {
        "id": "steady-reach",
        "name": "Steady Reach",
        "description": "Low-risk pool rewarding consistent weekly posting.",
        "lock_period_days": 30,
        "base_multiplier": 1.15,
        "risk_level": "low",
        "min_amount": 50,
        "max_amount": 5000,
        "expected_apr": 8.0,
        "participant_count": 0,
        "total_deposited": 0,
    },
    {
        "id": "launch-boost",
        "name": "Launch Boost",
        "description": "Backs new creators' first drops; longer lock, higher multiplier.",
        "lock_period_days": 90,
        "base_multiplier": 1.9,
        "risk_level": "high",
        "min_amount": 250,
        "max_amount": 15000,
        "expected_apr": 21.0,
        "participant_count": 0,
        "total_deposited": 0,
    },
)
PROJECTS: tuple[dict[str, Any], ...] = (
    {
        "id": "sandbox-project-1",
        "title": "Sandbox Creator Residency",
        "description": "Reference project of the sandbox: a residency for three new creators.",
        "target_amount": 20000,
        "amount_raised": 0,
        "backer_count": 0,
        "days_left": 30,
        "min_pledge": 25,
        "status": "active",
        "featured": False,
    },
)
POLICIES: tuple[dict[str, Any], ...] = (
    {
        "id": "sandbox-policy-1",
        "name": "Platform Ban Cover",
        "description": "Reference policy of the sandbox: income cover during a platform ban.",
        "premium_amount": 30,
        "coverage_amount": 5000,
        "duration_days": 30,
        "is_active": True,
    },
)


class GrowthRoutes:
    """Handlers of the Growth Hub's API calls, on the API's gateway client."""

    def __init__(self, api: PromorangApi) -> None:
        self.api = api

    def _mounted(self) -> None:
        if "growth_hub_api_missing" in self.api.config.faults:
            raise ApiError(404, NOT_MOUNTED)

    async def me(self, request: Request) -> Response:
        claims = await authenticate(request, self.api)
        params = {"id": f"eq.{claims['sub']}", "select": USER_COLUMNS}
        try:
            resp = await self.api.rest("GET", "users", params=params)
            rows = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            rows = None
        if not isinstance(rows, list):
            raise ApiError(500, {"success": False, "error": "Failed to fetch user"})
        if not rows:
            raise ApiError(404, {"success": False, "error": "User not found"})
        return JSONResponse({"success": True, "user": rows[0]})

    async def channels(self, request: Request) -> Response:
        self._mounted()
        await authenticate(request, self.api)
        return JSONResponse({"success": True, "channels": list(CHANNELS)})

    async def staking(self, request: Request) -> Response:
        self._mounted()
        await authenticate(request, self.api)
        # The sandbox keeps no staking ledger: the seeded creator has no positions.
        return JSONResponse({"success": True, "positions": []})

    async def funding_projects(self, request: Request) -> Response:
        self._mounted()
        await authenticate(request, self.api)
        return JSONResponse({"success": True, "projects": list(PROJECTS), "total": len(PROJECTS)})

    async def shield_policies(self, request: Request) -> Response:
        self._mounted()
        await authenticate(request, self.api)
        return JSONResponse({"success": True, "policies": list(POLICIES)})


def growth_routes(api: PromorangApi) -> list[Route]:
    """The routes to put into the API's table (before its catch-all)."""
    growth = GrowthRoutes(api)
    table: list[tuple[str, Handler]] = [
        ("/api/users/me", growth.me),
        ("/api/growth/channels", growth.channels),
        ("/api/growth/staking", growth.staking),
        ("/api/growth/funding/projects", growth.funding_projects),
        ("/api/growth/shield/policies", growth.shield_policies),
    ]
    return [Route(path, guarded(h), methods=["GET"]) for path, h in table]
