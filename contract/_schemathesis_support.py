"""Runs the contract with schemathesis: the guarded transport, the checks and the scenarios.

Imported only from fixtures of the contract suite, so that collecting other suites never loads
schemathesis or hypothesis.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from _contract_spec import OPERATION_ITEMS, DocumentedPaths, load_spec, spec_operations
from promorang_gate.tags import object_tag, tagged_title

if TYPE_CHECKING:
    from typing import TypeAlias

    from schemathesis import APIOperation as _APIOperation
    from schemathesis import Case as _Case
    from schemathesis import CheckFunction, Response
    from schemathesis.specs.openapi.schemas import OpenApiSchema

    Case: TypeAlias = _Case[Any]
    APIOperation: TypeAlias = _APIOperation[Any, Any, Any, Any]

__all__ = [
    "Budget",
    "ContractRunner",
    "ContractViolation",
    "GuardAdapter",
    "UndocumentedRequest",
    "load_schema",
]

SCHEMATHESIS_CONFIG = {
    # Postgres text cannot hold NUL; the security header is ours to send, not to generate.
    "generation": {"allow-x00": False, "with-security-parameters": False},
    "reports": {"junit": {"enabled": False}, "vcr": {"enabled": False}, "har": {"enabled": False}},
}
PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6300010000050001a5f645400000000049454e44ae426082"
    )
).decode()


class ContractViolation(AssertionError):
    """The deployment does not behave as contract/openapi.yaml documents."""


class UndocumentedRequest(Exception):
    """The transport refused a request the contract does not document (never sent)."""


class Ledger(Protocol):
    def content(self, content_id: str) -> None: ...

    def object(self, bucket: str, path: str) -> None: ...


class Redacting(Protocol):
    def redact(self, text: str) -> str: ...


def load_schema() -> OpenApiSchema:
    """The contract as a schemathesis schema, with the gate's generation settings."""
    from _contract_spec import SPEC_PATH

    config = schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
    return schemathesis.openapi.from_path(SPEC_PATH, config=config)


def route_exists(ctx: Any, response: Response, case: Case) -> bool | None:
    """A documented operation must not answer the API's unknown-route 404."""
    if response.status_code != 404:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not (isinstance(body, dict) and "success" in body):
        raise AssertionError(
            f"{case.operation.label} answered the API's unknown-route 404 "
            f"(body {response.text[:200]!r}): the deployment does not serve this documented path"
        )
    return None


POSITIVE_CHECKS: tuple[CheckFunction, ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    route_exists,
)
NEGATIVE_CHECKS: tuple[CheckFunction, ...] = (not_a_server_error, negative_data_rejection)


class GuardAdapter(HTTPAdapter):
    """Refuses before sending: writes on read-only envs, anything the contract omits."""

    def __init__(
        self,
        *,
        api_url: str,
        documented: DocumentedPaths,
        check_write: Callable[[str, str], None],
    ) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.base_path = urlsplit(self.api_url).path
        self.documented = documented
        self.check_write = check_write

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        method, url = str(request.method), str(request.url)
        self.check_write(method, url)  # raises WriteRefused (a skip) on read-only envs
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path[len(self.base_path) :] if parts.path.startswith(self.base_path) else None
        if not self.api_url.startswith(origin) or path is None:
            raise UndocumentedRequest(f"{method} {url} is outside the API under test; not sent")
        if not self.documented.allows(method, path):
            raise UndocumentedRequest(f"{method} {path} is not in contract/openapi.yaml; not sent")
        return super().send(request, *args, **kwargs)


def guarded_session(api_url: str, check_write: Callable[[str, str], None]) -> requests.Session:
    """A requests session whose every request passes :class:`GuardAdapter`."""
    documented = DocumentedPaths(spec_operations(load_spec()))
    session = requests.Session()
    adapter = GuardAdapter(api_url=api_url, documented=documented, check_write=check_write)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Budget:
    """The wall-clock budget of one env's contract run, started by the first test that uses it."""

    seconds: float
    started: float | None = None

    def start(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    @property
    def spent(self) -> bool:
        return self.started is not None and time.monotonic() - self.started >= self.seconds


@dataclass
class ContractRunner:
    """Sends generated cases for one env and validates the answers against the contract."""

    schema: OpenApiSchema
    api_url: str
    env: str
    bucket: str
    run_id: str
    creator_token: str | None
    writes_allowed: bool
    timeout_s: float
    max_examples: int
    budget: Budget
    session: requests.Session
    redactor: Redacting
    check_write: Callable[[str, str], None]
    _created: list[str] = field(default_factory=list)

    # --- public scenarios ---------------------------------------------------------------

    def fuzz(self, label: str, ledger: Ledger) -> None:
        """Valid inputs for ``label``: every answer is documented, typed and carries the headers."""
        operation = self._begin(label)
        strategy = operation.as_strategy()
        known_good = self._known_good(operation)
        if label == "GET /api/content":
            self._seed_content(ledger)

        def run(case: Case) -> None:
            if self._stop(run):
                return
            self._tag(case)
            response = self._send(case, ledger)
            self._validate(case, response, POSITIVE_CHECKS)

        self._run(run, strategy, known_good, label)

    def negative(self, label: str, ledger: Ledger) -> None:
        """Invalid inputs for ``label`` are refused with 4xx, never 5xx and never accepted."""
        operation = self._begin(label)
        strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)

        def run(case: Case) -> None:
            if self._stop(run):
                return
            response = self._send(case, ledger)
            self._validate(case, response, NEGATIVE_CHECKS)

        self._run(run, strategy, None, label)

    def requires_token(self, label: str, ledger: Ledger) -> None:
        """A write without ``Authorization`` is refused with the documented 401."""
        operation = self._begin(label)
        params = {"id": "00000000-0000-4000-8000-00000000beef"} if "{id}" in operation.path else {}
        body: Any = {} if operation.body else NOT_SET
        case = operation.Case(path_parameters=params, body=body, media_type="application/json")
        response = self._send(case, ledger, authorized=False)
        self._validate(case, response, POSITIVE_CHECKS)
        if response.status_code != 401:
            raise ContractViolation(
                f"{label} without a token answered {response.status_code}, expected 401 "
                f"(body {self.redactor.redact(response.text[:300])!r})"
            )

    def lifecycle(self, focus: str, ledger: Ledger) -> None:
        """create → get → update → delete → get: ``focus`` (an operation label) is fully checked."""
        for label in ("POST /api/content", "PUT /api/content/{id}", "DELETE /api/content/{id}"):
            self._begin(label)
        create_op = self._operation("POST /api/content")
        strategy = st.data()

        def run(data: st.DataObject) -> None:
            if self._stop(run):
                return
            create = data.draw(create_op.as_strategy(), label="create")
            _Lifecycle(self, focus, ledger, ScenarioRecorder(label="lifecycle")).run(create, data)

        # The four focused lifecycles share one operation's worth of examples.
        examples = -(-self.max_examples // 4)
        self._run(run, strategy, None, f"lifecycle ({focus})", arg="data", examples=examples)

    # --- plumbing -----------------------------------------------------------------------

    def _operation(self, label: str) -> APIOperation:
        method, path = label.split(" ", 1)
        try:
            return self.schema[path][method]
        except LookupError:
            raise ContractViolation(
                f"{label} is mapped to {OPERATION_ITEMS.get(label)} but missing from the contract"
            ) from None

    def _begin(self, label: str) -> APIOperation:
        operation = self._operation(label)
        if self.budget.spent:
            pytest.skip(f"contract time budget of {self.budget.seconds:g}s for {self.env} spent")
        if operation.method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
            self.check_write(operation.method.upper(), self.api_url + operation.path)
            if not self.creator_token:
                pytest.skip(f"no creator token for {self.env}: {label} cannot be verified")
        self.budget.start()
        return operation

    def _stop(self, run: Any) -> bool:
        # Stop generating once the env's budget is spent, but always run the first example.
        ran = getattr(run, "examples_run", 0)
        run.examples_run = ran + 1
        return ran > 0 and self.budget.spent

    def _settings(self, examples: int | None = None) -> settings:
        return settings(
            max_examples=max(examples or self.max_examples, 1),
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            report_multiple_bugs=False,
        )

    def _run(
        self,
        body: Callable[[Any], None],
        strategy: Any,
        known_good: Case | None,
        what: str,
        arg: str = "case",
        examples: int | None = None,
    ) -> None:
        test = given(**{arg: strategy})(self._settings(examples)(body))
        if known_good is not None:
            test = example(**{arg: known_good})(test)
        try:
            test()
        except ContractViolation as exc:
            raise ContractViolation(self.redactor.redact(str(exc))) from None
        except (AssertionError, BaseExceptionGroup, UndocumentedRequest) as exc:
            raise ContractViolation(
                f"{what} on {self.env} breaks the contract:\n{self.redactor.redact(_describe(exc))}"
            ) from None

    def _seed_content(self, ledger: Ledger) -> None:
        """One (tagged) item, so that the list's first page shows the content object's shape."""
        if not (self.writes_allowed and self.creator_token):
            return
        create = self._known_good(self._operation("POST /api/content"))
        if create is not None:
            self._tag(create)
            self._send(create, ledger)  # a failing create is the create item's finding

    def _known_good(self, operation: APIOperation) -> Case | None:
        """A valid request the explicit phase always sends, so success answers are checked."""
        bodies: Mapping[str, Any] = {
            "POST /api/content/upload-image": {
                "fileType": "image/png",
                "fileData": PNG_1X1,
                "fileName": "contract.png",
            },
            "POST /api/content": {
                "platform": "instagram",
                "title": "contract probe",
                "platform_url": "https://instagram.com/p/gate-contract",
                "total_shares": 100,
                "share_price": 0.1,
            },
        }
        if operation.label == "GET /api/content":
            return operation.Case(query={})
        body = bodies.get(operation.label)
        if body is None:
            return None
        return operation.Case(body=dict(body), media_type="application/json")

    def _tag(self, case: Case) -> None:
        """Tag what a valid request may create, so the janitor finds it after a killed run."""
        if not (case.method.upper() in {"POST", "PUT"} and isinstance(case.body, dict)):
            return
        if case.operation.label == "POST /api/content/upload-image":
            name = case.body.get("fileName")
            suffix = name if isinstance(name, str) else ""
            case.body["fileName"] = f"{object_tag(self.run_id)}-{suffix}"
            return
        if "title" in case.body or case.operation.label == "POST /api/content":
            title = case.body.get("title")
            case.body["title"] = tagged_title(title if isinstance(title, str) else "", self.run_id)

    def _headers(self, authorized: bool = True) -> dict[str, str]:
        if authorized and self.creator_token:
            return {"Authorization": f"Bearer {self.creator_token}"}
        return {}

    def _send(self, case: Case, ledger: Ledger, authorized: bool = True) -> Response:
        headers = self._headers(authorized and case.method.upper() != "GET")
        response = case.call(
            base_url=self.api_url, session=self.session, headers=headers, timeout=self.timeout_s
        )
        self._register(case, response, ledger)
        return response

    def _register(self, case: Case, response: Response, ledger: Ledger) -> None:
        if not 200 <= response.status_code < 300:
            return
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if case.operation.label == "POST /api/content":
            content = body.get("content")
            cid = content.get("id") if isinstance(content, dict) else None
            if isinstance(cid, str | int):
                ledger.content(str(cid))
        elif case.operation.label == "POST /api/content/upload-image":
            url = body.get("imageUrl")
            marker = f"/object/public/{self.bucket}/"
            if isinstance(url, str) and marker in url:
                ledger.object(self.bucket, url.split(marker, 1)[1].split("?", 1)[0])

    def _validate(
        self,
        case: Case,
        response: Response,
        checks: tuple[CheckFunction, ...],
        recorder: ScenarioRecorder | None = None,
    ) -> None:
        headers = self._headers(case.method.upper() != "GET")
        case.validate_response(
            response,
            checks=list(checks),
            headers=headers,
            transport_kwargs={"base_url": self.api_url, "session": self.session},
            recorder=recorder,
        )


class _Lifecycle:
    """One create → get → update → delete → get scenario, recorded for the stateful checks."""

    def __init__(
        self, runner: ContractRunner, focus: str, ledger: Ledger, recorder: ScenarioRecorder
    ) -> None:
        self.runner = runner
        self.focus = focus
        self.ledger = ledger
        self.recorder = recorder

    def run(self, create: Case, data: st.DataObject) -> None:
        r = self.runner
        r._tag(create)
        created = self._step(create, None, POSITIVE_CHECKS, "POST /api/content", expect=201)
        cid = self._link_target(created)
        get_op, put_op = (
            r._operation("GET /api/content/{id}"),
            r._operation("PUT /api/content/{id}"),
        )
        self._step(
            get_op.Case(path_parameters={"id": cid}),
            create,
            (*POSITIVE_CHECKS, ensure_resource_availability),
            "GET /api/content/{id}",
            expect=200,
            also=("POST /api/content",),
        )
        if self.focus == "PUT /api/content/{id}":
            update = data.draw(put_op.as_strategy(path_parameters={"id": cid}), label="update")
            if not isinstance(update.body, dict):
                update.body = {}
            update.body["title"] = "updated"
            r._tag(update)
            self._step(update, create, POSITIVE_CHECKS, "PUT /api/content/{id}", expect=200)
        delete = r._operation("DELETE /api/content/{id}").Case(path_parameters={"id": cid})
        self._step(delete, create, POSITIVE_CHECKS, "DELETE /api/content/{id}", expect=200)
        self._step(
            get_op.Case(path_parameters={"id": cid}),
            create,
            (*POSITIVE_CHECKS, use_after_free),
            "GET /api/content/{id}",
            expect=404,
            also=("DELETE /api/content/{id}",),
        )

    def _step(
        self,
        case: Case,
        parent: Case | None,
        checks: tuple[CheckFunction, ...],
        label: str,
        expect: int,
        also: tuple[str, ...] = (),
    ) -> Response:
        """Send ``case``; fully checked when it belongs to the focus, else it must just work."""
        r = self.runner
        self.recorder.record_case(case=case, parent_id=parent.id if parent else None)
        response = r._send(case, self.ledger)
        self.recorder.record_response(case_id=case.id, response=response)
        if self.focus == label or self.focus in also:
            stateful = tuple(
                c for c in checks if c in (use_after_free, ensure_resource_availability)
            )
            selected = checks if self.focus == label else stateful
            with _as_violation(r.redactor):
                r._validate(case, response, selected, recorder=self.recorder)
            if response.status_code != expect:
                raise ContractViolation(
                    f"{case.method} {case.formatted_path} answered {response.status_code}, "
                    f"expected {expect} in create → get → update → delete → get "
                    f"(body {r.redactor.redact(response.text[:300])!r})"
                )
        elif response.status_code != expect:
            pytest.skip(
                f"{self.focus} not verified: setup step {case.method} {case.formatted_path} "
                f"answered {response.status_code}, expected {expect}"
            )
        return response

    def _link_target(self, created: Response) -> str:
        """The id the spec's create → get link names (``$response.body#/content/id``)."""
        pointer = _link_pointer(self.runner.schema.raw_schema, "GetContentById")
        value: Any = created.json()
        for token in pointer.strip("/").split("/"):
            value = value.get(token) if isinstance(value, dict) else None
        if not isinstance(value, str | int):
            raise ContractViolation(f"create answered without {pointer}: cannot follow its links")
        return str(value)


def _link_pointer(raw: Mapping[str, Any], link: str) -> str:
    responses = raw["paths"]["/api/content"]["post"]["responses"]
    expression = responses["201"]["links"][link]["parameters"]["id"]
    prefix = "$response.body#"
    if not isinstance(expression, str) or not expression.startswith(prefix):
        raise ContractViolation(f"link {link} must take id from the response body: {expression!r}")
    return expression[len(prefix) :]


@contextmanager
def _as_violation(redactor: Redacting) -> Iterator[None]:
    try:
        yield
    except (AssertionError, BaseExceptionGroup) as exc:
        raise ContractViolation(redactor.redact(_describe(exc))) from None


def _describe(exc: BaseException) -> str:
    notes = "\n".join(getattr(exc, "__notes__", []) or [])
    return f"{exc}\n{notes}".strip()
