"""``/rest/v1/{table}``: the PostgREST subset the clients use (v13+ wording).

Access is decided by Postgres alone: every request runs in one transaction under the caller's
role with its claims set, so grants and RLS apply. Identifiers are always quoted with
``psycopg.sql`` and values always bound as parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response

from .auth import ANON_ROLE, Auth, authenticate, scope_calls
from .pgerrors import rest_body, rest_status
from .rest_query import (
    Prefer,
    Query,
    RestError,
    Table,
    build_order,
    build_page,
    build_select_list,
    build_where,
    parse_prefer,
    parse_query,
)

JSON_TYPE = "application/json; charset=utf-8"
OBJECT_ACCEPT = "application/vnd.pgrst.object+json"
OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8"
EXPOSED_SCHEMAS = ("public",)


def _error(status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> Response:
    headers = {"Proxy-Status": f"PostgREST; error={body['code']}", **(extra or {})}
    return Response(json.dumps(body), status, headers=headers, media_type=JSON_TYPE)


def _auth_error(exc: Exception, claims_invalid: bool) -> Response:
    code = "PGRST303" if claims_invalid else "PGRST301"
    message = str(exc)
    challenge = f'Bearer error="invalid_token", error_description="{message}"'
    body = {"code": code, "details": None, "hint": None, "message": message}
    return _error(401, body, {"WWW-Authenticate": challenge})


# -- query-string parsing -------------------------------------------------------------------------


# -- SQL building ---------------------------------------------------------------------------------


# -- request handling -----------------------------------------------------------------------------


_CATALOG = (
    "select a.attname, a.attgenerated <> '', coalesce(a.attnum = any(i.indkey), false), a.attnum"
    " from pg_catalog.pg_class c"
    " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
    " join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0"
    " and not a.attisdropped"
    " left join pg_catalog.pg_index i on i.indrelid = c.oid and i.indisprimary"
    " where n.nspname = %s and c.relname = %s and c.relkind in ('r','v','m','p','f')"
)


async def lookup_table(
    conn: AsyncConnection[Any], schema: str, name: str, scope: tuple[str, list[str]]
) -> Table:
    """Read the table from the catalog on every request (faults may rename tables at runtime),
    in the statement that makes the request's settings (``scope``, from ``auth.scope_calls``):
    one round trip for both; the catalog reads the same under any role."""
    calls, params = scope
    cur = await conn.execute(
        f"select t.* from (select {calls}) _scope left join lateral ({_CATALOG}) t on true"
        " order by t.attnum",
        (*params, schema, name),
    )
    rows = [r for r in await cur.fetchall() if r[0] is not None]
    if not rows:
        raise RestError(
            404,
            "PGRST205",
            f"Could not find the table '{schema}.{name}' in the schema cache",
        )
    primary_key = [str(r[0]) for r in rows if r[2]]
    return Table(schema, name, {str(r[0]): bool(r[1]) for r in rows}, primary_key)


def _content_range(first: int, count: int, total: int | None) -> str:
    span = f"{first}-{first + count - 1}" if count and total != 0 else "*"
    return f"{span}/{'*' if total is None else total}"


@dataclass
class Outcome:
    status: int
    body: str | None
    headers: dict[str, str]
    rollback: bool = False
    media_type: str = JSON_TYPE


async def handle_rest(request: Request) -> Response:
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    auth = authenticate(request.headers)
    if auth.error is not None:
        return _auth_error(auth.error, auth.error.claims_invalid)
    method = request.method
    try:
        query = parse_query(request.query_params.multi_items())
        schema = request.headers.get(
            "accept-profile" if method in ("GET", "HEAD") else "content-profile", "public"
        )
        if schema not in EXPOSED_SCHEMAS:
            raise RestError(
                406, "PGRST106", "The schema must be one of the following: public", None, None
            )
        body = None if method in ("GET", "HEAD", "DELETE") else await _json_body(request)
        async with pool.connection() as conn:
            outcome = await _run(conn, request, auth, schema, query, body)
    except RestError as exc:
        return _error(exc.status, exc.body)
    except psycopg.Error as exc:
        if exc.sqlstate is None:
            raise
        status = rest_status(exc.sqlstate, auth.role, ANON_ROLE)
        extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _error(status, rest_body(exc), extra)
    if method == "HEAD":
        return Response(None, outcome.status, headers=outcome.headers, media_type=JSON_TYPE)
    return Response(
        outcome.body, outcome.status, headers=outcome.headers, media_type=outcome.media_type
    )


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RestError(400, "PGRST102", "Empty or invalid json", str(exc)) from None


class _Rollback(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


async def _run(
    conn: AsyncConnection[Any],
    request: Request,
    auth: Auth,
    schema: str,
    query: Query,
    body: Any,
) -> Outcome:
    method = request.method
    try:
        async with conn.transaction():
            # Reads run read-only; the setting travels with the claims (one round trip).
            read_only = {"transaction_read_only": "on"} if method in ("GET", "HEAD") else {}
            scope = scope_calls(
                auth, method=method, path=request.url.path, headers=request.headers, extra=read_only
            )
            table = await lookup_table(conn, schema, request.path_params["table"], scope)
            singular = OBJECT_ACCEPT in request.headers.get("accept", "")
            prefer = parse_prefer(request.headers.getlist("prefer"))
            if method in ("GET", "HEAD"):
                outcome = await _read(conn, table, query, prefer, singular)
            else:
                outcome = await _mutate(conn, method, table, query, prefer, singular, body)
            if outcome.rollback:
                raise _Rollback(outcome)
            return outcome
    except _Rollback as rolled_back:
        return rolled_back.outcome


def _singular(text: str | None, first: str | None, count: int) -> tuple[int, str | None]:
    if count != 1:
        body = {
            "code": "PGRST116",
            "details": f"The result contains {count} rows",
            "hint": None,
            "message": "Cannot coerce the result to a single JSON object",
        }
        return 406, json.dumps(body)
    return 0, first


async def _read(
    conn: AsyncConnection[Any], table: Table, query: Query, prefer: Prefer, singular: bool
) -> Outcome:
    where, params = build_where(table, query.filters)
    inner = (
        sql.SQL("select {} from {}").format(build_select_list(table, query.select), table.ident)
        + where
        + build_order(table, query.order)
        + build_page(query)
    )
    stmt = sql.SQL(
        "select coalesce(json_agg(_r), '[]')::text, (json_agg(_r) -> 0)::text, count(*)"
        " from ({}) _r"
    ).format(inner)
    cur = await conn.execute(stmt, params)
    row = await cur.fetchone()
    assert row is not None
    text, first, count = row[0], row[1], int(row[2])
    total: int | None = None
    if prefer.count:
        count_stmt = sql.SQL("select count(*) from {}").format(table.ident) + where
        count_row = await (await conn.execute(count_stmt, params)).fetchone()
        assert count_row is not None
        total = int(count_row[0])
    headers = {"Content-Range": _content_range(query.offset, count, total)}
    if singular:
        status, obj = _singular(text, first, count)
        if status:
            return Outcome(status, obj, {"Proxy-Status": "PostgREST; error=PGRST116"})
        return Outcome(200, obj, headers, media_type=OBJECT_TYPE)
    status = 200
    if total is not None:
        if count == 0 and query.offset > 0 and query.offset >= total:
            body = {
                "code": "PGRST103",
                "details": f"An offset of {query.offset} was requested, but there are only"
                f" {total} rows.",
                "hint": None,
                "message": "Requested range not satisfiable",
            }
            return Outcome(416, json.dumps(body), {"Content-Range": f"*/{total}"})
        if count < total:
            status = 206
    return Outcome(status, text, headers)


def _body_columns(table: Table, query: Query, body: Any) -> list[str]:
    rows = body if isinstance(body, list) else [body]
    if not all(isinstance(r, dict) for r in rows):
        raise RestError(400, "PGRST102", "All object keys must match")
    if query.columns is not None:
        columns = list(query.columns)
    else:
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]
    for column in columns:
        if column not in table.columns:
            raise RestError(
                400,
                "PGRST204",
                f"Could not find the '{column}' column of '{table.name}' in the schema cache",
            )
    return columns


async def _mutate(
    conn: AsyncConnection[Any],
    method: str,
    table: Table,
    query: Query,
    prefer: Prefer,
    singular: bool,
    body: Any,
) -> Outcome:
    wants_rows = prefer.representation or singular
    returning = sql.SQL(" returning {}.*").format(table.ident) if wants_rows else sql.SQL("")
    params: list[Any] = []
    if method == "POST":
        columns = _body_columns(table, query, body)
        rows = body if isinstance(body, list) else [body]
        stmt = _insert(table, columns, query, prefer) + returning
        params.append(json.dumps(rows))
    elif method == "PATCH":
        if not isinstance(body, dict):
            raise RestError(400, "PGRST102", "Empty or invalid json")
        columns = _body_columns(table, query, body)
        where, where_params = build_where(table, query.filters)
        if not columns:
            stmt = sql.SQL("select * from {}").format(table.ident) + where + sql.SQL(" limit 0")
        else:
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = _body.{}").format(sql.Identifier(c), sql.Identifier(c))
                for c in columns
            )
            where = where or sql.SQL(" where true")
            stmt = (
                sql.SQL(
                    "update {} set {} from json_populate_record(null::{}, %s::json) _body"
                ).format(table.ident, assignments, table.ident)
                + where
                + returning
            )
            params.append(json.dumps(body))
        params.extend(where_params)
    else:  # DELETE
        where, where_params = build_where(table, query.filters)
        stmt = sql.SQL("delete from {}").format(table.ident) + where + returning
        params.extend(where_params)
    if not prefer.representation and not singular:
        cur = await conn.execute(stmt, params)
        affected = max(cur.rowcount, 0)
        status = {"POST": 201, "PATCH": 204, "DELETE": 204}[method]
        rng = _mutation_range(method, affected)
        return Outcome(status, None, {"Content-Range": rng})
    wrapped = sql.SQL(
        "with _m as ({}) select coalesce(json_agg(_r), '[]')::text, (json_agg(_r) -> 0)::text,"
        " count(*) from (select {} from _m {}) _r"
    ).format(stmt, build_select_list(_as_cte(table), query.select), sql.Identifier(table.name))
    row = await (await conn.execute(wrapped, params)).fetchone()
    assert row is not None
    text, first, count = row[0], row[1], int(row[2])
    headers = {"Content-Range": _mutation_range(method, count)}
    status = {"POST": 201, "PATCH": 200, "DELETE": 200}[method]
    if singular:
        err, obj = _singular(text, first, count)
        if err:
            return Outcome(err, obj, {"Proxy-Status": "PostgREST; error=PGRST116"}, rollback=True)
        return Outcome(status, obj, headers, media_type=OBJECT_TYPE)
    return Outcome(status, text, headers)


def _as_cte(table: Table) -> Table:
    """The mutation's rows are read back from the CTE, aliased with the table's name."""
    return _Aliased(table.schema, table.name, table.columns, table.primary_key)


class _Aliased(Table):
    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.name)

    def col(self, name: str) -> sql.Composable:
        return sql.Identifier(self.name, name)


def _mutation_range(method: str, count: int) -> str:
    if method == "PATCH" and count:
        return f"0-{count - 1}/*"
    return "*/*"


def _insert(table: Table, columns: list[str], query: Query, prefer: Prefer) -> sql.Composable:
    if not columns:
        return sql.SQL("insert into {} default values").format(table.ident)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    stmt = sql.SQL(
        "insert into {} ({}) select {} from json_populate_recordset(null::{}, %s::json)"
    ).format(table.ident, cols, cols, table.ident)
    if prefer.resolution in ("merge-duplicates", "ignore-duplicates"):
        target = query.on_conflict
        if not target:
            target = table.primary_key
        if not target:
            return stmt
        conflict = sql.SQL(", ").join(sql.Identifier(c) for c in target)
        if prefer.resolution == "ignore-duplicates":
            return stmt + sql.SQL(" on conflict ({}) do nothing").format(conflict)
        updates = sql.SQL(", ").join(
            sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in columns
        )
        return stmt + sql.SQL(" on conflict ({}) do update set {}").format(conflict, updates)
    return stmt
