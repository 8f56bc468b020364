"""Runs the contract against one environment: generated cases, the deterministic invalid cases
and the scenarios (lifecycle, pagination, missing and malformed ids), through the guarded
transport, checked by schemathesis' and the gate's checks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import requests
import schemathesis
from hypothesis import __version__ as hypothesis_version
from schemathesis import __version__ as schemathesis_version
from schemathesis.core import NOT_SET

from promorang_gate.cleanup.tags import tagged_title, title_run_id
from promorang_gate.contract import cases
from promorang_gate.contract.checks import (
    ABSENT_ID,
    NEGATIVE_CHECKS,
    POSITIVE_CHECKS,
    Scenario,
    in_scenario,
)
from promorang_gate.contract.errors import ContractViolation, UndocumentedRequest
from promorang_gate.contract.failures import combine, violation
from promorang_gate.contract.lifecycle import Lifecycle
from promorang_gate.contract.protocols import CreatorToken, Ledger
from promorang_gate.contract.spec import DocumentedPaths, load_spec, spec_operations
from promorang_gate.contract.transport import OriginUnavailable, guarded_session
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target import breaker
from promorang_gate.target.http import WRITE_METHODS, guard

if TYPE_CHECKING:
    from schemathesis import CheckFunction
    from schemathesis.core.transport import Response
    from schemathesis.engine.recorder import ScenarioRecorder
    from schemathesis.specs.openapi.schemas import OpenApiSchema

    from promorang_gate.target.environments import Target

__all__ = ["Budget", "Cache", "ContractRunner", "Ledger", "load_schema", "open_runner", "prepare"]

SCHEMATHESIS_CONFIG = {
    # Postgres text cannot hold NUL; the security header is ours to send, not to generate.
    "generation": {"allow-x00": False, "with-security-parameters": False},
    "reports": {"junit": {"enabled": False}, "vcr": {"enabled": False}, "har": {"enabled": False}},
}
LIST, CREATE, ONE = "GET /api/content", "POST /api/content", "/api/content/{id}"
# Pages of one listing (a platform the gate's other requests do not create) checked for overlap.
PAGES = ((1, 1), (1, 2), (1, 3), (2, 1), (2, 2))
PAGED_PLATFORM = "linkedin"
MALFORMED_IDS = ("abc", "0", "-1", "not-a-uuid", "0000000-0000-4000-8000-00000000beef")
# PUT and DELETE only with ids no row can carry: a legacy ``content_pieces`` table (integer
# ids) would update or delete its row 123 (CONTRACT.md 3.8), a row the run never created.
WRITE_SAFE_MALFORMED_IDS = tuple(i for i in MALFORMED_IDS if not i.lstrip("-").isdigit())


@cache
def load_schema(spec_path: Path) -> OpenApiSchema:
    """The contract as a schemathesis schema, with the gate's generation settings."""
    config = schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
    return schemathesis.openapi.from_path(spec_path, config=config)


# pytest's cache entries of the generated invalid and valid cases (``.pytest_cache``, JSON).
INVALID_CACHE_KEY = "promorang-gate/contract-invalid-cases"
VALID_CACHE_KEY = "promorang-gate/contract-valid-cases"


class Cache(Protocol):
    """What ``prepare`` needs of pytest's ``config.cache``."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: object) -> None: ...


def prepare(spec_path: Path, invalid: Iterable[str] = (), cache: Cache | None = None) -> None:
    """What the first contract test does before its first request, done ahead (while the
    embedded sandbox starts, ``promorang_gate.warmup``): schemathesis and hypothesis imported
    (this module's imports), the spec loaded, and the invalid cases of the ``invalid``
    operations generated, or read from ``cache`` where an earlier run stored them for the
    same spec, libraries and code (the digest)."""
    schema = load_schema(spec_path)
    load_spec(spec_path)
    for label in invalid:
        keep_invalid(schema, _operation(schema, label), spec_path, cache)


def keep_invalid(
    schema: OpenApiSchema, operation: Any, spec_path: Path, cache: Cache | None
) -> None:
    """``operation``'s invalid cases for this process: read from ``cache`` where an earlier run
    stored them for the same spec, libraries and code, else generated and stored there."""
    if cases.has_invalid(schema, operation):
        return
    digest = _cases_digest(spec_path)
    kept = _stored_cases(cache, INVALID_CACHE_KEY, digest)
    if operation.label in kept and cases.restore_invalid(schema, operation, kept[operation.label]):
        return
    cases.generate_invalid(schema, operation)
    stored = cases.stored_invalid(schema, operation)
    if cache is not None and stored:
        kept[operation.label] = stored
        _store(cache, INVALID_CACHE_KEY, {"digest": digest, "cases": kept})


def keep_valid(
    schema: OpenApiSchema, operation: Any, examples: int, spec_path: Path, cache: Cache
) -> None:
    """``operation``'s valid cases for this process: read from ``cache`` where an earlier run
    stored them for the same spec, libraries and code, else drawn and stored there."""
    if cases.has_valid(schema, operation, examples):
        return
    digest = _cases_digest(spec_path)
    kept = _stored_cases(cache, VALID_CACHE_KEY, digest)
    key = f"{operation.label} {examples}"
    if key in kept and cases.restore_valid(schema, operation, examples, kept[key]):
        return
    stored = cases.stored_valid(schema, operation, examples)
    if stored is not None:
        _store(cache, VALID_CACHE_KEY, {"digest": digest, "cases": {**kept, key: stored}})


def _stored_cases(cache: Cache | None, key: str, digest: str) -> dict[str, Any]:
    """The cached cases by operation label, when they were stored under ``digest``."""
    stored = cache.get(key, None) if cache is not None else None
    if not isinstance(stored, dict) or stored.get("digest") != digest:
        return {}
    kept = stored.get("cases")
    return dict(kept) if isinstance(kept, dict) else {}


def _operation(schema: OpenApiSchema, label: str) -> Any:
    method, path = label.split(" ", 1)
    return schema[path][method]


def _cases_digest(spec_path: Path) -> str:
    """What the generated cases depend on: the spec, the generation settings, the libraries and
    Python that generate them, and the module that draws and keeps them."""
    digest = hashlib.sha256()
    for part in (
        spec_path.read_bytes(),
        json.dumps(SCHEMATHESIS_CONFIG, sort_keys=True).encode(),
        f"{schemathesis_version} {hypothesis_version} {sys.version_info[:2]}".encode(),
        Path(cases.__file__).read_bytes(),
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _store(cache: Cache, key: str, value: object) -> None:
    # A read-only checkout only loses the speed-up: pytest warns, and warnings are errors here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(OSError):
            cache.set(key, value)


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


@contextmanager
def open_runner(
    target: Target,
    run_id: str,
    spec_path: Path,
    find_rows: Callable[[str], list[str]] | None = None,
    creator: CreatorToken | None = None,
    cache: Cache | None = None,
) -> Iterator[ContractRunner]:
    """A runner for ``target``; its session is closed on exit. ``find_rows(title)`` names the
    ``content_items`` stored under a title (read with the service role), to find what a create
    that failed committed anyway. ``creator`` is the creator's token as the gate's API client
    keeps it (``signin.CreatorAuth``): read before each case, renewed near its expiry, and
    renewed or the run stopped when a request carrying it is answered 401 because it expired.
    ``cache`` (pytest's) keeps the drawn valid cases between runs."""

    def check_write(method: str, url: str) -> None:
        guard(method, url, target.writes_allowed, target.name)

    documented = DocumentedPaths(spec_operations(load_spec(spec_path)))
    session = guarded_session(
        target.api_url,
        documented,
        check_write,
        deadline_s=target.request_deadline_s,
        max_body_bytes=target.max_body_bytes,
        resend=creator.resend_with if creator is not None else None,
    )
    try:
        yield ContractRunner(
            schema=load_schema(spec_path),
            api_url=target.api_url.rstrip("/"),
            env=target.name,
            bucket=target.bucket,
            run_id=run_id,
            creator_token=target.creator_token,
            writes_allowed=target.writes_allowed,
            timeout_s=target.request_timeout_s,
            max_examples=target.contract_max_examples,
            budget=Budget(target.contract_deadline_s),
            session=session,
            redact=Redactor(target.secret_values()).redact,
            check_write=check_write,
            reads_need_auth=target.reads_need_auth,
            find_rows=find_rows,
            token_source=creator.current if creator is not None else None,
            cache=cache,
            spec_path=spec_path,
        )
    finally:
        session.close()


@dataclass
class ContractRunner:
    """Sends the contract's cases for one env and validates the answers."""

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
    redact: Callable[[str], str]
    check_write: Callable[[str, str], None]
    reads_need_auth: bool = True
    find_rows: Callable[[str], list[str]] | None = None
    #: The creator's token as of now (renewed when it nears its expiry); else creator_token.
    token_source: Callable[[], str] | None = None
    #: pytest's cache, where the drawn valid cases are kept between runs (with ``spec_path``).
    cache: Cache | None = None
    spec_path: Path | None = None
    # Answers of creates that failed after committing: id(response) -> (response, row ids).
    _committed: dict[int, tuple[Response, list[str]]] = field(default_factory=dict)

    # --- scenarios ----------------------------------------------------------------------------

    def fuzz(self, label: str, ledger: Ledger) -> None:
        """Valid inputs for ``label``: every answer is documented, typed and carries the headers.
        The known-good case first, then the drawn ones; the first that fails is the finding."""
        operation = self._begin(label)
        if label == LIST:
            self._seed(ledger)
        probes = self._probes(operation, cases.known_good(operation), self.max_examples)
        with self._violations(label):
            for case in probes:
                cases.tag(case, self.run_id)
                response = self.send(case, ledger)
                self.validate(case, response, POSITIVE_CHECKS)

    def negative(self, label: str, ledger: Ledger) -> None:
        """Every deterministic invalid case of ``label`` is refused with 4xx."""
        operation = self._begin(label)
        if self.spec_path is not None:
            keep_invalid(self.schema, operation, self.spec_path, self.cache)
        target = self._seed(ledger) if "{id}" in operation.path else None
        if "{id}" in operation.path and target is None:
            pytest.skip(f"{label} not verified: no item to aim its invalid updates at")
        scenario = Scenario()
        invalid = []
        for case, what in cases.invalid_cases(self.schema, operation, target):
            cases.tag_invalid(case, self.run_id)
            scenario.invalid[case.id] = what
            invalid.append(case)
        self._each(invalid, NEGATIVE_CHECKS, scenario, ledger, f"invalid input to {label}")

    def requires_token(self, label: str, ledger: Ledger) -> None:
        """A write without ``Authorization`` is refused with the documented 401."""
        operation = self._begin(label)
        params = {"id": ABSENT_ID} if "{id}" in operation.path else {}
        body: Any = {} if operation.body else NOT_SET
        case = operation.Case(path_parameters=params, body=body, media_type="application/json")
        response = self.send(case, ledger, authorized=False)
        with self._violations(f"{label} without a token"):
            self.validate(case, response, POSITIVE_CHECKS)
        if response.status_code != 401:
            raise ContractViolation(
                f"{label} without a token answered {response.status_code}, expected 401",
                f"body {self.redact(response.text)[:300]!r}",
            )

    def anonymous_read(self, label: str, ledger: Ledger) -> None:
        """A read without ``Authorization`` is refused (401) or answered, as the env declares
        (``reads_need_auth``); every other request of the run carries the creator's token, as
        the platform's frontend sends it."""
        operation = self._begin(label, anonymous=True)
        params = {"id": ABSENT_ID} if "{id}" in operation.path else {}
        case = operation.Case(path_parameters=params)
        response = self.send(case, ledger, authorized=False)
        with self._violations(f"{label} without a token"):
            self.validate(case, response, POSITIVE_CHECKS)
        status = response.status_code
        if self.reads_need_auth and status != 401:
            raise ContractViolation(
                f"{label} without a token answered {status}, expected 401: the env declares"
                " that reads need the user's token (reads_need_auth = true)",
                f"body {self.redact(response.text)[:300]!r}",
            )
        if not self.reads_need_auth and status == 401:
            raise ContractViolation(
                f"{label} without a token answered 401: the env declares that anyone may read"
                " (reads_need_auth = false)",
                f"body {self.redact(response.text)[:300]!r}",
            )

    def lifecycle(self, focus: str, ledger: Ledger) -> None:
        """create → get → update → delete → get: ``focus`` (an operation label) is fully checked.
        The known-good create first, then drawn ones (an update drawn for each where the update
        is the focus), the same on every run as ``fuzz``'s; the first that fails is the finding."""
        for label in (CREATE, f"PUT {ONE}", f"DELETE {ONE}"):
            self._begin(label)
        # The four focused lifecycles share one operation's worth of examples.
        examples = -(-self.max_examples // 4)
        known = cases.known_good(self.operation(CREATE))
        # The first lifecycle creates the known-good item on every run: its price 0.1 is the
        # one the platform reads back as 0.5 (CONTRACT.md 6.8), whatever is drawn next.
        creates = self._probes(self.operation(CREATE), known, examples - (known is not None))
        with self._violations(f"lifecycle ({focus})"):
            for number, create in enumerate(creates):
                update = partial(self._update, number, examples) if focus == f"PUT {ONE}" else None
                Lifecycle(self, focus, ledger).run(create, update)

    def pagination(self, ledger: Ledger) -> None:
        """Pages of one listing hold at most ``limit`` items and do not overlap."""
        operation = self._begin(LIST)
        seeded = [self._seed(ledger, platform=PAGED_PLATFORM) for _ in range(3)]
        if self.writes_allowed and self.creator_token and not all(seeded):
            pytest.skip("paging not verified: the three items to page through were not created")
        # Three items of our own to page through; where the run cannot write, the whole listing.
        listing = {"type": PAGED_PLATFORM} if all(seeded) else {}
        pages = [
            operation.Case(query={**listing, "limit": limit, "page": page}) for limit, page in PAGES
        ]
        scenario = Scenario()
        self._each(pages, POSITIVE_CHECKS, scenario, ledger, "pages of GET /api/content")
        one_by_one = scenario.listed(pages[0])
        if not (one_by_one.get(1) and one_by_one.get(2)):
            # Empty pages hold no more than limit and repeat nothing: that proves no paging.
            pytest.skip(
                "paging not verified: pages 1 and 2 of GET /api/content?limit=1"
                f"{'&type=' + PAGED_PLATFORM if listing else ''} are not both filled"
            )

    def missing(self, label: str, ledger: Ledger) -> None:
        """``label`` on an item that never existed, or was just deleted, answers 404."""
        operation = self._begin(label)
        scenario = Scenario(gone={ABSENT_ID: "never existed"})
        targets = [ABSENT_ID]
        deleted = self._created_then_deleted(ledger, scenario)
        if deleted is not None:
            targets.append(deleted)  # for DELETE: the repeated delete
        probes = [self._by_id(operation, ident) for ident in targets]
        self._each(probes, POSITIVE_CHECKS, scenario, ledger, f"{label} of missing content")

    def malformed_ids(self, label: str, ledger: Ledger) -> None:
        """``label`` with an id that is no UUID answers 400 or 404, never 5xx."""
        operation = self._begin(label)
        idents = MALFORMED_IDS if label.startswith("GET ") else WRITE_SAFE_MALFORMED_IDS
        probes = [self._by_id(operation, ident) for ident in idents]
        self._each(probes, POSITIVE_CHECKS, Scenario(), ledger, f"{label} with malformed ids")

    # --- sending and checking -----------------------------------------------------------------

    def operation(self, label: str) -> Any:
        method, path = label.split(" ", 1)
        try:
            return self.schema[path][method]
        except LookupError:
            raise ContractViolation(f"{label} is missing from the contract") from None

    def send(self, case: Any, ledger: Ledger, authorized: bool = True) -> Response:
        headers = self._headers(authorized)
        response: Response = case.call(
            base_url=self.api_url, session=self.session, headers=headers, timeout=self.timeout_s
        )
        self._register(case, response, ledger)
        if response.status_code >= 500 and case.operation.label == CREATE:
            self._committed_anyway(case, response, ledger)
        return response

    def _committed_anyway(self, case: Any, response: Response, ledger: Ledger) -> None:
        """After a create answered 5xx, look for the row it may have committed (by its tagged
        title, through the service role): one found is removed with the run's other rows, and
        the answer is marked, so that checking it names the defect."""
        title = case.body.get("title") if isinstance(case.body, dict) else None
        if self.find_rows is None or not isinstance(title, str):
            return
        if title_run_id(title) != self.run_id:
            return  # not this run's tag: nothing that can be told apart from other rows
        try:
            found = self.find_rows(title)
        except Exception:  # the end-of-run sweep looks again by the run's tag
            return
        for ident in found:
            ledger.content(ident)
        if found:
            self._committed[id(response)] = (response, found)

    def validate(
        self,
        case: Any,
        response: Response,
        checks: Iterable[CheckFunction],
        scenario: Scenario | None = None,
        recorder: ScenarioRecorder | None = None,
    ) -> None:
        marked = self._committed.pop(id(response), None)
        committed = marked[1] if marked and marked[0] is response else None
        if committed:
            raise ContractViolation(
                f"{case.method} {case.formatted_path} answered {response.status_code} after"
                " committing the row: a retry duplicates it",
                f"content_items {', '.join(committed)} stored under the request's title;"
                " removed by the run",
            )
        headers = self._headers()
        with in_scenario(scenario or Scenario()):
            case.validate_response(
                response,
                checks=list(checks),
                headers=headers,
                transport_kwargs={"base_url": self.api_url, "session": self.session},
                recorder=recorder,
            )

    # --- plumbing -----------------------------------------------------------------------------

    def _begin(self, label: str, anonymous: bool = False) -> Any:
        operation = self.operation(label)
        if self.budget.spent:
            pytest.skip(f"contract time budget of {self.budget.seconds:g}s for {self.env} spent")
        reads = operation.method.upper() == "GET" and operation.path.startswith("/api/content")
        if reads and self.reads_need_auth and not self.creator_token and not anonymous:
            # Every answer would be the documented 401: nothing of the operation is verified.
            pytest.skip(
                f"no creator token for {self.env}: {label} needs the user's token"
                " (reads_need_auth) and cannot be verified"
            )
        if operation.method.upper() in WRITE_METHODS:
            self.check_write(operation.method.upper(), self.api_url + operation.path)
            if not self.creator_token:
                pytest.skip(f"no creator token for {self.env}: {label} cannot be verified")
        # Every request would be refused so by the transport: fail as it would, at once,
        # before drawing or generating cases for a target that is no longer asked.
        breaker.refuse(self.api_url, label, OriginUnavailable)
        self.budget.start()
        return operation

    def _probes(self, operation: Any, known: Any | None, drawn: int) -> Iterator[Any]:
        """``known`` (where there is one), then ``drawn`` drawn cases. The first always goes;
        the env's budget stops the rest. The cases are drawn only once the known one was sent
        and passed, so a target that fails it (one that does not answer at all) costs no
        drawing in a run whose cache holds none."""
        if known is not None:
            yield known
            if self.budget.spent:
                return
        for case in self._drawn(operation, drawn):
            yield case
            if self.budget.spent:
                return

    def _update(self, number: int, count: int) -> Any:
        """Lifecycle ``number``'s drawn update (of ``count``), drawn when it is first needed; a
        title-only update where hypothesis drew fewer."""
        operation = self.operation(f"PUT {ONE}")
        drawn = self._drawn(operation, count)
        if number < len(drawn):
            return drawn[number]
        return operation.Case(body={}, media_type="application/json")

    def _drawn(self, operation: Any, count: int) -> list[Any]:
        """``count`` drawn valid cases of ``operation`` (fewer where hypothesis finds no more),
        the same on every run: drawn once per process, and kept in pytest's cache between runs."""
        if count < 1:
            return []
        if self.cache is not None and self.spec_path is not None:
            keep_valid(self.schema, operation, count, self.spec_path, self.cache)
        return cases.valid_cases(self.schema, operation, count)

    def _each(
        self, probes: list[Any], checks: Iterable[CheckFunction], scenario: Scenario,
        ledger: Ledger, what: str,
    ) -> None:  # fmt: skip
        """Send every probe (the same ones on every run); report all that fail."""
        found: list[ContractViolation] = []
        for number, case in enumerate(probes):
            if number and self.budget.spent and not found:
                pytest.skip(f"{what} not verified: time budget spent after {number} requests")
            if number and self.budget.spent:
                break
            response = self.send(case, ledger)
            try:
                self.validate(case, response, checks, scenario)
            except (AssertionError, BaseExceptionGroup) as exc:
                found.append(violation(exc, f"{what} on {self.env}", self.redact))
            scenario.observe(case, response)
        if found:
            raise combine(found)

    @contextmanager
    def _violations(self, what: str) -> Iterator[None]:
        try:
            yield
        except (AssertionError, BaseExceptionGroup, UndocumentedRequest) as exc:
            raise violation(exc, f"{what} on {self.env}", self.redact) from None

    def _seed(self, ledger: Ledger, platform: str | None = None) -> str | None:
        """One tagged item (when writes are allowed); its id, or None when none was created."""
        if not (self.writes_allowed and self.creator_token):
            return None
        create = cases.known_good(self.operation(CREATE))
        if create is None:
            return None
        if platform is not None:
            create.body["platform"] = platform
        cases.tag(create, self.run_id)
        response = self.send(create, ledger)  # a failing create is the create item's finding
        body = _json(response) if response.status_code == 201 else None
        content = body.get("content") if isinstance(body, dict) else None
        return str(content["id"]) if isinstance(content, dict) and "id" in content else None

    def _created_then_deleted(self, ledger: Ledger, scenario: Scenario) -> str | None:
        if not (self.writes_allowed and self.creator_token):
            return None
        ident = self._seed(ledger)
        if ident is None:
            pytest.skip("missing content not verified: setup create failed")
        delete = self._by_id(self.operation(f"DELETE {ONE}"), ident)
        response = self.send(delete, ledger)
        if response.status_code != 200:
            status = response.status_code
            pytest.skip(f"missing content not verified: setup delete answered {status}")
        scenario.observe(delete, response)
        return ident

    def _by_id(self, operation: Any, ident: str) -> Any:
        body: Any = NOT_SET
        if operation.method.upper() == "PUT":
            body = {"title": tagged_title("contract probe (update)", self.run_id)}
        params = {"id": ident}
        return operation.Case(path_parameters=params, body=body, media_type="application/json")

    def _headers(self, authorized: bool = True) -> dict[str, str]:
        if authorized and self.creator_token:
            token = self.token_source() if self.token_source else self.creator_token
            return {"Authorization": f"Bearer {token}"}
        return {}

    def _register(self, case: Any, response: Response, ledger: Ledger) -> None:
        body = _json(response) if 200 <= response.status_code < 300 else None
        if not isinstance(body, dict):
            return
        if case.operation.label == CREATE:
            content = body.get("content")
            cid = content.get("id") if isinstance(content, dict) else None
            if isinstance(cid, str | int):
                ledger.content(str(cid))
        elif case.operation.label == "POST /api/content/upload-image":
            url = body.get("imageUrl")
            marker = f"/object/public/{self.bucket}/"
            if isinstance(url, str) and marker in url:
                ledger.object(self.bucket, url.split(marker, 1)[1].split("?", 1)[0])


def _json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
