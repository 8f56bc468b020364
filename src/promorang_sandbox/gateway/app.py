"""The Starlette app that serves ``/rest/v1`` and ``/storage/v1`` over one database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from ..recorder import RecordingMiddleware, RequestRecorder
from . import storage as st
from .gotrue import gotrue_routes
from .metrics import metrics
from .rest import handle_rest

POOL_MAX_SIZE = 10
POOL_OPEN_TIMEOUT_S = 15.0
EXPOSED_HEADERS = ["Content-Range", "Content-Length", "ETag", "Proxy-Status", "Location"]


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)
    await conn.execute("set timezone to 'UTC'")


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _storage_routes() -> list[Route]:
    return [
        Route("/bucket", st.list_buckets, methods=["GET"]),
        Route("/bucket", st.create_bucket, methods=["POST"]),
        Route("/bucket/{bucket}", st.get_bucket, methods=["GET"]),
        Route("/bucket/{bucket}", st.update_bucket, methods=["PUT"]),
        Route("/bucket/{bucket}", st.delete_bucket, methods=["DELETE"]),
        Route("/bucket/{bucket}/empty", st.empty_bucket, methods=["POST"]),
        Route("/object/list/{bucket}", st.list_objects, methods=["POST"]),
        Route("/object/public/{bucket}/{path:path}", st.get_public_object, methods=["GET"]),
        Route(
            "/object/authenticated/{bucket}/{path:path}",
            st.get_authenticated_object,
            methods=["GET"],
        ),
        Route("/object/{bucket}", st.delete_objects, methods=["DELETE"]),
        Route("/object/{bucket}/{path:path}", st.get_object, methods=["GET"]),
        Route("/object/{bucket}/{path:path}", st.upload_object, methods=["POST"]),
        Route("/object/{bucket}/{path:path}", st.update_object, methods=["PUT"]),
        Route("/object/{bucket}/{path:path}", st.delete_object, methods=["DELETE"]),
    ]


def create_gateway_app(dsn: str, recorder: RequestRecorder) -> RecordingMiddleware:
    """The gateway (a Starlette app wrapped in the recorder) over the database at ``dsn``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=POOL_MAX_SIZE,
            open=False,
            configure=_configure,
            # No prepared statements: faults rename tables under a running gateway.
            kwargs={"prepare_threshold": None},
            name="promorang-gateway",
        )
        await pool.open(wait=True, timeout=POOL_OPEN_TIMEOUT_S)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    rest_methods = ["GET", "HEAD", "POST", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            Route("/health", _health, methods=["GET"]),
            Route("/customer/v1/privileged/metrics", metrics, methods=["GET"]),
            Mount("/rest/v1", routes=[Route("/{table}", handle_rest, methods=rest_methods)]),
            Mount("/storage/v1", routes=_storage_routes()),
            Mount("/auth/v1", routes=gotrue_routes()),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=EXPOSED_HEADERS,
            )
        ],
        lifespan=lifespan,
    )
    return RecordingMiddleware(app, recorder, "gateway")
