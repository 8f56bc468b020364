"""Figures that are not probe requests: connection utilization, storage used, webhook failures.

Each reader returns a :class:`Reading` every interval: a value, the figures behind it, or the
reason there is none (an interval without data is counted, never read as a pass). The database
is read only through ``ReadOnlyConnection``; Supabase's metrics endpoint is parsed with
``prometheus_client``'s exposition parser.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.environments import Target
from promorang_gate.target.http import GateHttp
from promorang_gate.target.readonly_db import ReadOnlyConnection

__all__ = [
    "METRICS_PATH",
    "ConnectionsReader",
    "Database",
    "PrometheusReader",
    "Reading",
    "StorageReader",
    "WebhookReader",
    "utilization_from_metrics",
]

#: Supabase's Prometheus-compatible endpoint (HTTP basic auth ``service_role:<key>``).
METRICS_PATH = "/customer/v1/privileged/metrics"
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_CONNECTIONS_SQL = """
select
  (select count(*) from pg_stat_activity where backend_type = 'client backend'),
  current_setting('max_connections')::int,
  current_setting('superuser_reserved_connections')::int,
  (select count(*) from pg_stat_activity
    where backend_type = 'client backend' and datname = current_database()),
  (select datconnlimit from pg_database where datname = current_database()),
  (select count(*) from pg_stat_activity
    where backend_type = 'client backend' and usename = current_user),
  (select rolconnlimit from pg_roles where rolname = current_user)
"""
_STORAGE_SQL = (
    "select coalesce(sum((metadata->>'size')::bigint), 0), count(*)"
    " from storage.objects where bucket_id = %s"
)


@dataclass(frozen=True)
class Reading:
    value: float | None
    figures: dict[str, Any] = field(default_factory=dict)
    missing: str | None = None  # why there is no value

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "figures": self.figures, "missing": self.missing}


def _no_data(why: str) -> Reading:
    return Reading(None, {}, why)


class Database:
    """One read-only session to the env's database, reopened after a failure."""

    def __init__(self, target: Target, redactor: Redactor) -> None:
        self.target = target
        self.redactor = redactor
        self._conn: ReadOnlyConnection | None = None

    @property
    def configured(self) -> bool:
        return bool(self.target.database_url)

    def rows(self, query: Any, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        from promorang_gate.target.supabase_access import connect_db

        try:
            if self._conn is None:
                # Read-only whatever the env allows: the watch never writes.
                conn = connect_db(dataclasses.replace(self.target, writes_allowed=False))
                assert isinstance(conn, ReadOnlyConnection)
                self._conn = conn
            return self._conn.execute(query, params).fetchall()
        except psycopg.Error:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _ratio(used: int, limit: int) -> float | None:
    return used / limit if limit > 0 else None


def _utilization(scopes: dict[str, tuple[int, int]]) -> Reading:
    """The worst of the scopes that have a limit: (used, limit) each."""
    ratios = {k: r for k, (u, lim) in scopes.items() if (r := _ratio(u, lim)) is not None}
    if not ratios:
        return _no_data("no connection limit is known")
    worst = max(ratios, key=lambda k: ratios[k])
    figures: dict[str, Any] = {
        f"{k}_{part}": v
        for k, (u, lim) in scopes.items()
        for part, v in (("used", u), ("limit", lim))
    }
    figures["scope"] = worst
    return Reading(ratios[worst], figures)


def utilization_from_metrics(text: str) -> Reading:
    """Cluster utilization from Supabase's metrics: backends over max less reserved."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pg_stat_database_num_backends":
                values["backends"] = values.get("backends", 0.0) + sample.value
            elif sample.name in (
                "pg_settings_max_connections",
                "pg_settings_superuser_reserved_connections",
            ):
                values[sample.name] = sample.value
    lacking = [n for n in ("backends", "pg_settings_max_connections") if n not in values]
    if lacking:
        return _no_data(f"the metrics endpoint has no {', '.join(lacking)}")
    limit = values["pg_settings_max_connections"] - values.get(
        "pg_settings_superuser_reserved_connections", 0.0
    )
    reading = _utilization({"cluster": (int(values["backends"]), int(limit))})
    return dataclasses.replace(reading, figures={**reading.figures, "via": "metrics endpoint"})


class ConnectionsReader:
    """``pg_stat_activity`` against ``max_connections - superuser_reserved_connections`` (and a
    database's or role's own connection limit, where one is set) through the database URL;
    without one, Supabase's metrics endpoint."""

    def __init__(
        self,
        db: Database,
        redactor: Redactor,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db = db
        target = db.target
        self.http = GateHttp(
            target.name,
            target.supabase_url,
            timeout_s=target.request_timeout_s,
            writes_allowed=False,
            redactor=redactor,
            attach=False,
            transport=transport,
            deadline_s=min(target.request_deadline_s, target.request_timeout_s),
            max_body_bytes=target.max_body_bytes,
            use_breaker=False,  # the watch measures an outage, it does not give up on it
        )

    def read(self) -> Reading:
        if self.db.configured:
            return self._from_database()
        return self._from_metrics()

    def _from_database(self) -> Reading:
        import psycopg

        try:
            row = self.db.rows(_CONNECTIONS_SQL)[0]
        except psycopg.Error as exc:
            return _no_data(f"database: {self.db.redactor.one_line(exc, 200)}")
        used, max_conn, reserved, db_used, db_limit, role_used, role_limit = row
        reading = _utilization(
            {
                "cluster": (used, max_conn - reserved),
                "database": (db_used, db_limit),
                "role": (role_used, role_limit),
            }
        )
        return dataclasses.replace(reading, figures={**reading.figures, "via": "pg_stat_activity"})

    def _from_metrics(self) -> Reading:
        auth = httpx.BasicAuth("service_role", self.db.target.service_role_key)
        try:
            response = self.http.get(METRICS_PATH, auth=auth)
        except httpx.HTTPError as exc:
            return _no_data(f"metrics endpoint: {type(exc).__name__}")
        if response.status_code != 200:
            return _no_data(f"metrics endpoint answered {response.status_code}")
        try:
            return utilization_from_metrics(response.text)
        except ValueError as exc:
            return _no_data(f"metrics endpoint: not the exposition format ({exc})")

    def close(self) -> None:
        self.http.close()


class StorageReader:
    """The bucket's total object size (``storage.objects`` metadata) against the quota."""

    def __init__(self, db: Database, quota_bytes: int, quota_source: str) -> None:
        self.db = db
        self.quota = quota_bytes
        self.quota_source = quota_source

    def read(self) -> Reading:
        import psycopg

        env = self.db.target.name.upper().replace("-", "_")
        if self.quota <= 0:
            return _no_data(
                f"no storage quota declared (GATE_{env}_STORAGE_QUOTA_BYTES or"
                " storage_quota_bytes in the profile)"
            )
        if not self.db.configured:
            return _no_data(f"storage.objects is read through GATE_{env}_DATABASE_URL; none given")
        try:
            used, count = self.db.rows(_STORAGE_SQL, (self.db.target.bucket,))[0]
        except psycopg.Error as exc:
            return _no_data(f"database: {self.db.redactor.one_line(exc, 200)}")
        figures = {
            "used_bytes": int(used),
            "objects": int(count),
            "quota_bytes": self.quota,
            "quota_source": self.quota_source,
        }
        return Reading(int(used) / self.quota, figures)


class WebhookReader:
    """Failed Stripe webhook deliveries in the window, from the table the profile names
    (columns ``status`` and ``created_at``; a status other than succeeded/delivered fails)."""

    def __init__(self, db: Database, table: str, window_s: float) -> None:
        self.db = db
        self.table = table
        self.window_s = window_s

    def read(self) -> Reading:
        import psycopg
        from psycopg import sql

        env = self.db.target.name.upper().replace("-", "_")
        if not self.table:
            return _no_data(
                "the environment records no webhook deliveries (name the table:"
                f" webhook_deliveries_table in the profile or GATE_{env}_WEBHOOK_DELIVERIES_TABLE)"
            )
        if not _TABLE.match(self.table):
            return _no_data(f"webhook_deliveries_table {self.table!r} is not a table name")
        if not self.db.configured:
            return _no_data(f"deliveries are read through GATE_{env}_DATABASE_URL; none given")
        query = sql.SQL(
            "select count(*) filter (where status not in ('succeeded', 'delivered')), count(*)"
            " from {} where created_at > now() - make_interval(secs => %s)"
        ).format(sql.Identifier(*self.table.split(".")))
        try:
            failed, total = self.db.rows(query, (self.window_s,))[0]
        except psycopg.Error as exc:
            return _no_data(f"database: {self.db.redactor.one_line(exc, 200)}")
        return Reading(float(failed), {"failed": int(failed), "deliveries": int(total)})


class PrometheusReader:
    """The API's real-traffic error ratio: the profile's PromQL expression evaluated by the env's
    Prometheus-compatible endpoint (``/api/v1/query``, the model of Argo Rollouts' provider)."""

    def __init__(
        self,
        target: Target,
        url: str,
        query: str,
        redactor: Redactor,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.query = query
        self.http = GateHttp(
            target.name,
            url.rstrip("/"),
            timeout_s=target.request_timeout_s,
            writes_allowed=False,
            redactor=redactor,
            attach=False,
            transport=transport,
            deadline_s=min(target.request_deadline_s, target.request_timeout_s),
            max_body_bytes=target.max_body_bytes,
            use_breaker=False,  # the watch measures an outage, it does not give up on it
        )

    def read(self) -> Reading:
        try:
            response = self.http.get("/api/v1/query", params={"query": self.query})
            body = response.json()
        except httpx.HTTPError as exc:
            return _no_data(f"Prometheus: {type(exc).__name__}")
        except ValueError:
            return _no_data("Prometheus answered no JSON")
        result = body.get("data", {}).get("result") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(result, list):
            return _no_data(f"Prometheus answered {response.status_code}: {str(body)[:200]}")
        if not result:
            return _no_data("the error-rate query returned no series (no traffic in the window?)")
        try:
            value = float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            return _no_data("the error-rate query's first series holds no value")
        if value != value:  # NaN: 0/0, no request in the window
            return _no_data("the error-rate query is NaN: no request in the window")
        return Reading(value, {"series": len(result), "query": self.query})

    def close(self) -> None:
        self.http.close()
