"""Supabase's Prometheus-compatible metrics endpoint (``/customer/v1/privileged/metrics``,
HTTP basic auth ``service_role:<service-role key>``), served from this cluster's own figures:
the names Supabase's postgres exporter uses, written by ``prometheus_client``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..jwtkeys import InvalidToken, verify

__all__ = ["metrics"]

_FIGURES = """
select current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       coalesce((select json_agg(json_build_array(datname, numbackends))
                 from pg_stat_database where datname is not null), '[]'::json)
"""


def _service_role(request: Request) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, key = base64.b64decode(value, validate=True).decode().partition(":")
        claims = verify(key)
    except (binascii.Error, UnicodeDecodeError, InvalidToken):
        return False
    return user == "service_role" and claims.get("role") == "service_role"


class _Figures:
    def __init__(self, max_conn: int, reserved: int, backends: list[list[Any]]) -> None:
        self.max_conn, self.reserved, self.backends = max_conn, reserved, backends

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        server = ["server"]
        for name, value in (
            ("pg_settings_max_connections", self.max_conn),
            ("pg_settings_superuser_reserved_connections", self.reserved),
        ):
            family = GaugeMetricFamily(name, f"Server Parameter: {name[12:]}", labels=server)
            family.add_metric(["localhost:5432"], value)
            yield family
        backends = GaugeMetricFamily(
            "pg_stat_database_num_backends",
            "Number of backends currently connected to this database",
            labels=["datname", "server"],
        )
        for datname, count in self.backends:
            backends.add_metric([str(datname), "localhost:5432"], count)
        yield backends


async def metrics(request: Request) -> Response:
    if not _service_role(request):
        return JSONResponse({"message": "Unauthorized"}, status_code=401)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    async with request.app.state.pool.connection() as conn:
        row = await (await conn.execute(_FIGURES)).fetchone()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(*row))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
