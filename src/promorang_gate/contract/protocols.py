"""What the contract's parts need of each other, as protocols: the cleanup ledger a runner
registers created things with, the runner a lifecycle scenario sends through, and the creator's
token as the gate's API client keeps it (``signin.CreatorAuth``).

Kept apart so that ``runner`` (which starts lifecycles) and ``lifecycle`` (which sends through
the runner) both import this module instead of each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from schemathesis import CheckFunction
    from schemathesis.core.transport import Response
    from schemathesis.engine.recorder import ScenarioRecorder
    from schemathesis.specs.openapi.schemas import OpenApiSchema

    from promorang_gate.contract.checks import Scenario

__all__ = ["CreatorToken", "Ledger", "Runner"]


class CreatorToken(Protocol):
    def current(self) -> str: ...

    def resend_with(self, header: str | None, status: int, body: bytes) -> str | None: ...


class Ledger(Protocol):
    def content(self, content_id: str) -> None: ...

    def object(self, bucket: str, path: str) -> None: ...


class Runner(Protocol):
    @property
    def schema(self) -> OpenApiSchema: ...

    @property
    def run_id(self) -> str: ...

    @property
    def redact(self) -> Callable[[str], str]: ...

    def operation(self, label: str) -> Any: ...

    def send(self, case: Any, ledger: Ledger, authorized: bool = True) -> Response: ...

    def validate(
        self,
        case: Any,
        response: Response,
        checks: Iterable[CheckFunction],
        scenario: Scenario | None = None,
        recorder: ScenarioRecorder | None = None,
    ) -> None: ...
