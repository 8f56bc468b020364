"""Failure messages whose first line names the defect and the request, never a Python class:
``GET /api/content: response violates the schema: "available_shares" is a required property``
or ``GET /api/content/{id} answered 500``. The full report follows on later lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from schemathesis.core.failures import CustomFailure, Failure, ServerError
from schemathesis.openapi.checks import JsonSchemaError, MissingHeaders, UndefinedStatusCode

from promorang_gate.contract.errors import ContractViolation, UndocumentedRequest

__all__ = ["combine", "violation"]

Redact = Callable[[str], str]


def violation(exc: BaseException, context: str, redact: Redact) -> ContractViolation:
    """One :class:`ContractViolation` for whatever a check, schemathesis or the transport raised."""
    if isinstance(exc, ContractViolation):
        return ContractViolation(redact(exc.headline), redact(exc.detail))
    failures = sorted(_failures(exc))
    if failures:
        headline = _headline(failures[0])
    elif isinstance(exc, UndocumentedRequest):
        headline = str(exc)
    elif isinstance(exc, BaseExceptionGroup):
        # hypothesis wraps what a replay raised ("Inconsistent results"): the cause is inside.
        leaf = _first_leaf(exc)
        headline = f"{type(leaf).__name__}: {_first_line(str(leaf))}".rstrip(": ")
    else:
        headline = _first_line(str(exc)) or f"{context} breaks the contract"
    return ContractViolation(redact(headline), redact(f"{context}:\n{_describe(exc)}"))


def combine(violations: Sequence[ContractViolation]) -> ContractViolation:
    """Several violations of one test as one: the first names the defect, all are detailed."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    detail = "\n\n".join(f"{v.headline}\n{v.detail}" for v in violations)
    return ContractViolation(first.headline + more, detail)


def _failures(exc: BaseException) -> Iterator[Failure]:
    if isinstance(exc, Failure):
        yield exc
    elif isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _failures(inner)


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _headline(failure: Failure) -> str:
    request = failure.operation or "the request"
    if isinstance(failure, CustomFailure):
        return _first_line(failure.message) or f"{request}: {failure.title}"
    if isinstance(failure, ServerError):
        return f"{request} answered {failure.status_code}"
    if isinstance(failure, JsonSchemaError):
        return f"{request}: response violates the schema: {failure.validation_message}"
    if isinstance(failure, UndefinedStatusCode):
        return f"{request} answered {failure.status_code}, a status the contract does not document"
    if isinstance(failure, MissingHeaders):
        return f"{request}: response lacks the header(s) {', '.join(failure.missing_headers)}"
    title = failure.title[:1].lower() + failure.title[1:]
    return f"{request}: {title}: {_first_line(failure.message)}".rstrip(": ")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _describe(exc: BaseException) -> str:
    notes = "\n".join(getattr(exc, "__notes__", []) or [])
    return f"{exc}\n{notes}".strip()
