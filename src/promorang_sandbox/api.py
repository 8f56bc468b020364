"""The reference Promorang API: the healthy behaviour of CONTRACT §3, plus the API-layer faults.

It talks to Supabase only over HTTP, through the gateway, with the service-role key. Routes live
with their resource (``content``, ``uploads``, ``admin``), the shared state in ``api_state``;
this module assembles the route table.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .admin import Admin
from .api_common import ERROR_BODY, ApiError, guarded, json_response
from .api_state import ApiConfig, PromorangApi
from .content import ContentRoutes
from .demo_login import demo_login_routes
from .growth import growth_routes
from .middleware import PlatformMiddleware
from .uploads import Uploads
from .webhooks import webhook_routes

__all__ = ["ApiConfig", "ApiError", "PromorangApi", "create_api_app"]

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _error_handler(request: Request, exc: Exception) -> Response:
    return json_response(500, ERROR_BODY)


def create_api_app(config: ApiConfig) -> tuple[ASGIApp, PromorangApi]:
    """The API as an ASGI app (platform middleware outermost) and its state (close it)."""

    api = PromorangApi(config)
    # One block per resource; a new resource adds its routes here, before the catch-all.
    routes = [
        Route("/api/health", guarded(api.health), methods=["GET"]),
        *Uploads(api).routes(),
        *ContentRoutes(api).routes(),
        *growth_routes(api),
        *webhook_routes(config),
        *demo_login_routes(api),
        *Admin(config).routes(),
        Route("/{path:path}", guarded(api.not_found), methods=ANY_METHOD),
    ]
    app = Starlette(routes=routes, exception_handlers={Exception: _error_handler})
    return PlatformMiddleware(app, config), api
