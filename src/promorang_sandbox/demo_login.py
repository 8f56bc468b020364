"""``POST /api/demo-login`` as the platform's newest build serves it (fault ``demo_login_open``):
anyone is handed a signed token that the API accepts. The healthy API has no such route (404)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import jwtkeys
from .api_common import guarded, json_response

if TYPE_CHECKING:
    from .api_state import PromorangApi

__all__ = ["DEMO_USER_ID", "demo_login_routes"]

DEMO_USER_ID = "a0000000-0000-4000-8000-00000000d3e0"


def demo_login_routes(api: PromorangApi) -> list[Route]:
    async def demo_login(request: Request) -> Response:
        if "demo_login_open" not in api.config.faults:
            body = {"error": "Not Found", "message": "The requested API endpoint does not exist"}
            return json_response(404, body)
        user = {
            "id": DEMO_USER_ID,
            "email": "creator@demo.com",
            "username": "demo_creator",
            "user_type": "creator",
        }
        token = jwtkeys.user_token(DEMO_USER_ID, user["email"], ttl_s=7 * 86400)
        return json_response(200, {"success": True, "user": user, "token": token})

    return [Route("/api/demo-login", guarded(demo_login), methods=["POST"])]
