"""The contract's semantic checks: what no schema can say, registered as schemathesis checks.

Each check is ``(ctx, response, case) -> None``, raises ``AssertionError`` whose first line names
the request and the defect, and stays silent where it does not apply. Checks that compare with
earlier requests (what was written, deleted or listed) read the :class:`Scenario` the runner
puts in effect; outside one they do nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

if TYPE_CHECKING:
    from schemathesis import CheckFunction
    from schemathesis.checks import CheckContext
    from schemathesis.core.transport import Response

__all__ = [
    "ABSENT_ID",
    "NEGATIVE_CHECKS",
    "POSITIVE_CHECKS",
    "Scenario",
    "in_scenario",
    "request_line",
]

LIST = "GET /api/content"
ONE = "/api/content/{id}"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# A well-formed id no deployment holds: GET, PUT and DELETE of it must answer 404.
ABSENT_ID = "00000000-0000-4000-8000-00000000beef"
# Fields a create or an update writes and the content object reads back.
WRITTEN_FIELDS = (
    "platform",
    "title",
    "platform_url",
    "description",
    "media_url",
    "total_shares",
    "share_price",
)
# Fields of the create answer a GET must repeat (the platform's POST and GET disagreed here).
CREATED_IDENTITY = ("creator_id", "creator_name", "creator_username")
CENT = 0.01


@dataclass
class Scenario:
    """What a scenario wrote, deleted, listed and sent invalid, for the checks that compare."""

    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)
    pages: dict[tuple[tuple[str, str], ...], dict[int, list[str]]] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)

    def listed(self, case: Any) -> dict[int, list[str]]:
        """The ids each page of ``case``'s listing answered so far, by page number."""
        return self.pages.get(_listing(case), {})

    def observe(self, case: Any, response: Response) -> None:
        """Remember what ``case`` changed, after its response was checked."""
        label, status = case.operation.label, response.status_code
        body = _json(response)
        if label == "POST /api/content" and status == 201:
            content = _content(body)
            if content is not None and isinstance(case.body, dict):
                fields = _written(case.body)
                fields.update({k: content.get(k) for k in CREATED_IDENTITY if k in content})
                self.written[str(content.get("id"))] = fields
        elif case.path == ONE and case.method.upper() == "PUT" and status == 200:
            if isinstance(case.body, dict):  # an update reads back what it wrote, nothing more
                self.written[_ident(case)] = _written(case.body)
        elif case.path == ONE and case.method.upper() == "DELETE" and 200 <= status < 300:
            self.written.pop(_ident(case), None)
            self.gone[_ident(case)] = "was deleted"
        elif label == LIST and status == 200 and isinstance(body, list):
            page = _page(case)
            if page is not None:
                ids = [str(c.get("id")) for c in body if isinstance(c, dict)]
                self.pages.setdefault(_listing(case), {})[page] = ids


_SCENARIO: ContextVar[Scenario | None] = ContextVar("gate_contract_scenario", default=None)


@contextmanager
def in_scenario(scenario: Scenario) -> Iterator[Scenario]:
    """Put ``scenario`` in effect for the checks run inside the block."""
    token = _SCENARIO.set(scenario)
    try:
        yield scenario
    finally:
        _SCENARIO.reset(token)


def request_line(case: Any) -> str:
    """``METHOD /concrete/path?query`` of a case, as its failure messages name it."""
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    suffix = f"?{urlencode(query, doseq=True)}" if query else ""
    return f"{case.method.upper()} {case.formatted_path}{suffix}"


# --- the checks ------------------------------------------------------------------------------


@schemathesis.check
def route_exists(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """A documented operation must not answer the API's unknown-route 404."""
    if response.status_code != 404:
        return None
    body = _json(response)
    if not (isinstance(body, dict) and "success" in body):
        raise AssertionError(
            f"{request_line(case)} answered the API's unknown-route 404: the deployment does "
            "not serve this documented path"
        )
    return None


@schemathesis.check
def lists_honour_limit(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """A page of the content list never holds more items than ``limit`` asked for."""
    limit = _int(case.query.get("limit")) if case.operation.label == LIST else None
    items = _json(response) if limit is not None and response.status_code == 200 else None
    if isinstance(items, list) and limit is not None and len(items) > limit:
        raise AssertionError(
            f"{request_line(case)} answered {len(items)} items, more than limit={limit}"
        )
    return None


@schemathesis.check
def pages_do_not_overlap(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """A page of the content list repeats no item of the page before it."""
    scenario, page = _SCENARIO.get(), _page(case)
    if scenario is None or page is None or case.operation.label != LIST:
        return None
    earlier = scenario.listed(case).get(page - 1, [])
    body = _json(response) if response.status_code == 200 else None
    ids = [str(c.get("id")) for c in body if isinstance(c, dict)] if isinstance(body, list) else []
    repeated = sorted(set(ids) & set(earlier))
    if repeated:
        raise AssertionError(
            f"{request_line(case)} repeats {len(repeated)} item(s) of page {page - 1}: "
            f"{', '.join(repeated[:3])}"
        )
    return None


@schemathesis.check
def reads_back_what_was_written(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """GET of an item answers every field last written to it, with the same type and value."""
    scenario = _SCENARIO.get()
    if scenario is None or case.path != ONE or case.method.upper() != "GET":
        return None
    written = scenario.written.get(_ident(case))
    content = _content(_json(response)) if response.status_code == 200 else None
    if not written or content is None:
        return None
    wrong = [
        f"{k} {v!r} reads back as {content.get(k)!r}"
        for k, v in written.items()
        if not _same(v, content.get(k))
    ]
    if wrong:
        raise AssertionError(
            f"{request_line(case)} does not read back what was written: {'; '.join(wrong)}"
        )
    return None


@schemathesis.check
def gone_answers_404(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """GET, PUT and DELETE of an item that was deleted, or never existed, answer 404."""
    scenario = _SCENARIO.get()
    why = scenario.gone.get(_ident(case)) if scenario is not None and case.path == ONE else None
    if why is not None and response.status_code != 404:
        raise AssertionError(
            f"{request_line(case)} answered {response.status_code} for an item that {why}: "
            "expected 404"
        )
    return None


@schemathesis.check
def malformed_id_answers_4xx(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """An id that is no UUID (nor, for GET, a position n > 0) answers 400 or 404, never 5xx."""
    ident = _ident(case) if case.path == ONE else ""
    position = case.method.upper() == "GET" and ident.isdigit() and int(ident) > 0
    if not ident or UUID.match(ident) or position or response.status_code in (400, 404):
        return None
    raise AssertionError(
        f"{request_line(case)} answered {response.status_code} for the malformed id {ident!r}: "
        "expected 400 or 404"
    )


@schemathesis.check
def refuses_invalid_input(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """Invalid input is answered 4xx: never accepted (2xx) and never a crash (5xx)."""
    scenario = _SCENARIO.get()
    what = scenario.invalid.get(case.id) if scenario is not None else None
    if what is None or 400 <= response.status_code < 500:
        return None
    raise AssertionError(
        f"{request_line(case)} answered {response.status_code} to invalid input ({what}): "
        "expected 4xx"
    )


POSITIVE_CHECKS: tuple[CheckFunction, ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    route_exists,
    malformed_id_answers_4xx,
    lists_honour_limit,
    pages_do_not_overlap,
    reads_back_what_was_written,
    gone_answers_404,
)
NEGATIVE_CHECKS: tuple[CheckFunction, ...] = (refuses_invalid_input,)


# --- helpers ---------------------------------------------------------------------------------


def _json(response: Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _content(body: Any) -> dict[str, Any] | None:
    content = body.get("content") if isinstance(body, dict) else None
    return content if isinstance(content, dict) else None


def _ident(case: Any) -> str:
    return str((case.path_parameters or {}).get("id", ""))


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _page(case: Any) -> int | None:
    return _int(case.query.get("page")) if case.operation.label == LIST and case.query else None


def _listing(case: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in case.query.items() if k != "page"))


def _written(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in WRITTEN_FIELDS if body.get(k) is not None}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _same(wrote: Any, read: Any) -> bool:
    if _kind(wrote) != _kind(read):
        return False
    if _kind(wrote) == "number":
        # Within half a cent: prices are money, and a build storing them to 4 decimals and
        # answering cents (as the platform's GET rounds) keeps what was written.
        return math.isclose(wrote, read, rel_tol=1e-9, abs_tol=CENT / 2)
    return bool(wrote == read)
