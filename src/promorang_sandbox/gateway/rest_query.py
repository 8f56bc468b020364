"""PostgREST's query language, read and turned into SQL: filters, ``select``, ``order``,
paging and ``Prefer``. Identifiers are always quoted with ``psycopg.sql``, values always bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

__all__ = [
    "Prefer",
    "Query",
    "RestError",
    "Table",
    "build_order",
    "build_page",
    "build_select_list",
    "build_where",
    "parse_prefer",
    "parse_query",
]

RESERVED = {"select", "order", "limit", "offset", "columns", "on_conflict"}

SIMPLE_OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

IS_VALUES = {
    "null": "null",
    "not_null": "not null",
    "true": "true",
    "false": "false",
    "unknown": "unknown",
}


_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")


class RestError(Exception):
    """A PostgREST-generated error (PGRSTxxx)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "details": details, "hint": hint, "message": message}


@dataclass
class Query:
    select: list[tuple[str, str | None]] = field(default_factory=list)  # (column|"*", alias)
    filters: list[tuple[str, str]] = field(default_factory=list)
    order: list[tuple[str, bool, str | None]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    columns: list[str] | None = None
    on_conflict: list[str] | None = None


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and double quotes."""
    parts: list[str] = []
    depth, quoted, current = 0, False, []
    escape = False
    for ch in text:
        if escape:
            current.append(ch)
            escape = False
            continue
        if ch == "\\" and quoted:
            escape = True
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1]
    return name


def _int_param(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RestError(400, "PGRST100", f'"failed to parse {name} parameter ({value})"') from None
    if number < 0:
        raise RestError(400, "PGRST100", f"{name} must be non-negative")
    return number


def parse_query(items: list[tuple[str, str]]) -> Query:
    query = Query()
    for key, value in items:
        if key == "select":
            query.select = _parse_select(value)
        elif key == "order":
            query.order = _parse_order(value)
        elif key == "limit":
            query.limit = _int_param("limit", value)
        elif key == "offset":
            query.offset = _int_param("offset", value)
        elif key == "columns":
            query.columns = [_unquote(c) for c in _split_top(value) if c.strip()]
        elif key == "on_conflict":
            query.on_conflict = [_unquote(c) for c in _split_top(value) if c.strip()]
        elif key in ("or", "and", "not.or", "not.and"):
            raise RestError(
                400, "PGRST100", f"the '{key}' operator is not supported by the sandbox"
            )
        else:
            query.filters.append((key, value))
    return query


def _parse_select(value: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for raw in _split_top(value):
        item = raw.strip()
        if not item:
            continue
        if "(" in item:
            raise RestError(
                400, "PGRST100", f"embedding ('{item}') is not supported by the sandbox"
            )
        alias: str | None = None
        if ":" in item and "::" not in item.split(":", 1)[0] + ":":
            alias, item = (part.strip() for part in item.split(":", 1))
            if not _ALIAS_RE.match(_unquote(alias)):
                raise RestError(400, "PGRST100", f"invalid alias '{alias}'")
            alias = _unquote(alias)
        if "::" in item:
            raise RestError(400, "PGRST100", f"casts ('{item}') are not supported by the sandbox")
        out.append((item if item == "*" else _unquote(item), alias))
    return out


def _parse_order(value: str) -> list[tuple[str, bool, str | None]]:
    out: list[tuple[str, bool, str | None]] = []
    for raw in _split_top(value):
        if not raw.strip():
            continue
        parts = raw.strip().split(".")
        column, desc, nulls = _unquote(parts[0]), False, None
        for modifier in parts[1:]:
            if modifier in ("asc", "desc"):
                desc = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = "first" if modifier == "nullsfirst" else "last"
            else:
                raise RestError(400, "PGRST100", f'"failed to parse order ({value})"')
        out.append((column, desc, nulls))
    return out


def _parse_in_list(value: str) -> list[str | None]:
    if not (value.startswith("(") and value.endswith(")")):
        raise RestError(400, "PGRST100", f'"failed to parse filter (in.{value})"')
    inner = value[1:-1]
    if not inner:
        return []
    items: list[str | None] = []
    for raw in _split_top(inner):
        item = raw.strip()
        if len(item) >= 2 and item[0] == item[-1] == '"':
            items.append(item[1:-1].replace('\\"', '"').replace("\\\\", "\\"))
        else:
            items.append(None if item == "null" else item)
    return items


@dataclass
class Table:
    schema: str
    name: str
    columns: dict[str, bool]  # name -> generated
    primary_key: list[str] = field(default_factory=list)

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    def col(self, name: str) -> sql.Composable:
        return sql.Identifier(self.schema, self.name, name)


def build_where(table: Table, filters: list[tuple[str, str]]) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for key, raw in filters:
        column = _unquote(key)
        negate = False
        op, _, value = raw.partition(".")
        if op == "not":
            negate = True
            op, _, value = value.partition(".")
        col = table.col(column)
        clause: sql.Composable
        if op in SIMPLE_OPS:
            clause = sql.SQL("{} {} %s").format(col, sql.SQL(SIMPLE_OPS[op]))
            params.append(value)
        elif op in ("like", "ilike"):
            word = "like" if op == "like" else "ilike"
            clause = sql.SQL("{}::text {} %s").format(col, sql.SQL(word))
            params.append(value.replace("*", "%"))
        elif op == "in":
            items = _parse_in_list(value)
            values = [v for v in items if v is not None]
            parts: list[sql.Composable] = []
            if values:
                marks = sql.SQL(", ").join(sql.Placeholder() for _ in values)
                parts.append(sql.SQL("{} in ({})").format(col, marks))
                params.extend(values)
            if len(values) != len(items):
                parts.append(sql.SQL("{} is null").format(col))
            clause = (
                sql.SQL("({})").format(sql.SQL(" or ").join(parts)) if parts else sql.SQL("false")
            )
        elif op == "is":
            if value not in IS_VALUES:
                raise RestError(400, "PGRST100", f'"failed to parse filter ({raw})"')
            clause = sql.SQL("{} is {}").format(col, sql.SQL(IS_VALUES[value]))
        else:
            raise RestError(400, "PGRST100", f'"failed to parse filter ({raw})"')
        if negate:
            clause = sql.SQL("not ({})").format(clause)
        clauses.append(clause)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" where ") + sql.SQL(" and ").join(clauses), params


def build_select_list(table: Table, select: list[tuple[str, str | None]]) -> sql.Composable:
    if not select:
        return sql.SQL("*")
    items: list[sql.Composable] = []
    for column, alias in select:
        if column == "*":
            items.append(sql.SQL("{}.*").format(table.ident))
            continue
        # Qualified like PostgREST, so the legacy select=count resolves to count(t).
        item = table.col(column)
        name = alias or column
        items.append(sql.SQL("{} as {}").format(item, sql.Identifier(name)))
    return sql.SQL(", ").join(items)


def build_order(table: Table, order: list[tuple[str, bool, str | None]]) -> sql.Composable:
    if not order:
        return sql.SQL("")
    items = []
    for column, desc, nulls in order:
        text = " desc" if desc else " asc"
        if nulls:
            text += f" nulls {nulls}"
        items.append(table.col(column) + sql.SQL(text))
    return sql.SQL(" order by ") + sql.SQL(", ").join(items)


def build_page(query: Query) -> sql.Composable:
    text = ""
    if query.limit is not None:
        text += f" limit {int(query.limit)}"
    if query.offset:
        text += f" offset {int(query.offset)}"
    return sql.SQL(text)


@dataclass
class Prefer:
    representation: bool = False
    count: bool = False
    resolution: str | None = None
    missing_default: bool = False


def parse_prefer(headers: list[str]) -> Prefer:
    prefer = Prefer()
    for header in headers:
        for raw in header.split(","):
            key, _, value = raw.strip().partition("=")
            if key == "return":
                prefer.representation = value == "representation"
            elif key == "count":
                prefer.count = value in ("exact", "planned", "estimated")
            elif key == "resolution":
                prefer.resolution = value
            elif key == "missing":
                prefer.missing_default = value == "default"
    return prefer
