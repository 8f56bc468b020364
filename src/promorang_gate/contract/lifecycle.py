"""One create → get → [update → get] → delete → get scenario; the steps of the operation in
focus are fully checked, the others must just work (else the focus is not verified)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.specs.openapi.checks import ensure_resource_availability, use_after_free

from promorang_gate.contract import cases
from promorang_gate.contract.checks import POSITIVE_CHECKS, Scenario
from promorang_gate.contract.errors import ContractViolation

if TYPE_CHECKING:
    from schemathesis import CheckFunction
    from schemathesis.core.transport import Response

    from promorang_gate.contract.protocols import Ledger, Runner

__all__ = ["Lifecycle"]

CREATE, GET, PUT, DELETE = (
    "POST /api/content",
    "GET /api/content/{id}",
    "PUT /api/content/{id}",
    "DELETE /api/content/{id}",
)
# The last step each focus needs: what follows it only tidies up (the ledger removes the item
# anyway), so a defect there belongs to another operation's item, not to this focus.
LAST_STEP = {CREATE: "create", GET: "gone", PUT: "read update", DELETE: "gone"}


class Lifecycle:
    """A scenario recorded for schemathesis' stateful checks, with the gate's :class:`Scenario`."""

    def __init__(self, runner: Runner, focus: str, ledger: Ledger) -> None:
        self.runner = runner
        self.focus = focus
        self.ledger = ledger
        self.recorder = ScenarioRecorder(label="lifecycle")
        self.scenario = Scenario()
        self._done = False  # the focus's last step is behind: the rest only tidies up

    def run(self, create: Any, update: Callable[[], Any] | None) -> None:
        """Where the update is the focus, ``update()`` gives its case (drawn for any id; called
        only once the create and the read went through), which is aimed at the created item."""
        r = self.runner
        cases.tag(create, r.run_id)
        created = self._step("create", create, None, (CREATE,), expect=201)
        cid = self._link_target(created)
        get_op = r.operation(GET)
        # GET right after create reads back what the create wrote (contract.get_content).
        read = get_op.Case(path_parameters={"id": cid})
        self._step("read", read, create, (GET,), 200, extra=(ensure_resource_availability,))
        if self.focus == PUT and update is not None:
            change = update()
            change.path_parameters = {**(change.path_parameters or {}), "id": cid}
            if not isinstance(change.body, dict):
                change.body = {}
            change.body["title"] = "updated"
            cases.tag(change, r.run_id)
            self._step("update", change, create, (PUT,), expect=200)
            # The update reads back likewise: only what it wrote (contract.update_content).
            reread = get_op.Case(path_parameters={"id": cid})
            self._step("read update", reread, change, (PUT,), expect=200)
        delete = r.operation(DELETE).Case(path_parameters={"id": cid})
        self._step("delete", delete, create, (DELETE,), expect=200)
        gone = get_op.Case(path_parameters={"id": cid})
        self._step("gone", gone, delete, (GET, DELETE), expect=404, extra=(use_after_free,))

    def _step(
        self,
        name: str,
        case: Any,
        parent: Any | None,
        owners: tuple[str, ...],
        expect: int,
        extra: tuple[CheckFunction, ...] = (),
    ) -> Response:
        """Send ``case``; fully checked when the focus owns the step, else, up to the focus's last
        step, it must just work."""
        r = self.runner
        self.recorder.record_case(case=case, parent_id=parent.id if parent else None)
        response = r.send(case, self.ledger)
        self.recorder.record_response(case_id=case.id, response=response)
        if self.focus in owners:
            r.validate(case, response, (*POSITIVE_CHECKS, *extra), self.scenario, self.recorder)
            if response.status_code != expect:
                raise ContractViolation(
                    f"{case.method} {case.formatted_path} answered {response.status_code}, "
                    f"expected {expect} in create → get → update → delete → get",
                    f"body {r.redact(response.text)[:300]!r}",
                )
        elif response.status_code != expect and not self._done:
            pytest.skip(
                f"{self.focus} not verified: setup step {case.method} {case.formatted_path} "
                f"answered {response.status_code}, expected {expect}"
            )
        self.scenario.observe(case, response)
        self._done = self._done or name == LAST_STEP[self.focus]
        return response

    def _link_target(self, created: Response) -> str:
        """The id the spec's create → get link names (``$response.body#/content/id``)."""
        pointer = _link_pointer(self.runner.schema.raw_schema, "GetContentById")
        value: Any = created.json()
        for token in pointer.strip("/").split("/"):
            value = value.get(token) if isinstance(value, dict) else None
        if not isinstance(value, str | int):
            raise ContractViolation(
                f"POST /api/content answered without {pointer}: cannot follow its links"
            )
        return str(value)


def _link_pointer(raw: Mapping[str, Any], link: str) -> str:
    responses = raw["paths"]["/api/content"]["post"]["responses"]
    expression = responses["201"]["links"][link]["parameters"]["id"]
    prefix = "$response.body#"
    if not isinstance(expression, str) or not expression.startswith(prefix):
        raise ContractViolation(f"link {link} must take id from the response body: {expression!r}")
    return expression[len(prefix) :]
