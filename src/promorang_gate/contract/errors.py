"""What a contract check raises: a violation (a test failure) or a refused request."""

from __future__ import annotations

from promorang_gate.errors import GateError

__all__ = ["ContractViolation", "UndocumentedRequest"]


class ContractViolation(AssertionError):
    """The deployment does not behave as the contract documents.

    The first line names the defect and the request (``GET /api/content/{id} answered 500``);
    the redacted detail (schemathesis' report, the reproducing request) follows on later lines.
    """

    def __init__(self, headline: str, detail: str = "") -> None:
        super().__init__(f"{headline}\n{detail}".rstrip())
        self.headline = headline
        self.detail = detail


class UndocumentedRequest(GateError):
    """The transport refused a request the contract does not document (never sent)."""
