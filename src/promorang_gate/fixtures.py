"""The gate's public fixtures (prefix ``gate_``); registered as a plugin by ``plugin.py``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from promorang_gate import state, warmup
from promorang_gate.cleanup.ledger import CleanupLedger
from promorang_gate.release.app_repo import AppRepo, ReleaseDate, missing_reason
from promorang_gate.release.migrations import Ledger, read_ledger
from promorang_gate.reporting.allure_support import attach_svg, latency_histogram_svg
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.http import GateHttp, refuse_given_up
from promorang_gate.target.readiness import wait_ready
from promorang_gate.target.readonly_db import ReadOnlyConnection
from promorang_gate.target.signin import CreatorAuth
from promorang_gate.target.stored import StoredState
from promorang_gate.target.supabase_access import connect_db, connect_db_for_writes, make_supabase
from promorang_gate.target.vercel_bypass import VercelBypass

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.decision.baseline import Comparison
    from promorang_gate.target.environments import Target

__all__ = [
    "GateMetrics",
    "ReadyWaiter",
    "gate_api",
    "gate_app_repo",
    "gate_baseline",
    "gate_db",
    "gate_http",
    "gate_ledger",
    "gate_ledger_factory",
    "gate_metrics",
    "gate_migration_ledger",
    "gate_ready",
    "gate_release_date",
    "gate_run_id",
    "gate_stored",
    "gate_supabase",
    "gate_tag",
    "gate_target",
]

T = TypeVar("T")
METRIC_PROPERTY = "gate_metric"
_log = logging.getLogger("promorang_gate")


def _redactor(config: pytest.Config, target: Target | None = None) -> Redactor:
    redactor = config.stash.get(state.REDACTOR, None)
    if redactor is None:
        redactor = Redactor()
        config.stash[state.REDACTOR] = redactor
    if target is not None:
        for secret in target.secret_values():
            redactor.add_secret(secret)
    return redactor


def _resolve_target(config: pytest.Config, name: str) -> Target:
    # The registry waits for the embedded sandbox (spawned at configure), or starts or attaches
    # to it, on first access.
    targets = config.stash.get(state.TARGETS, None)
    if targets is None or name not in targets:
        pytest.fail(f"gate_target: environment {name!r} is not selected (use --env)", pytrace=False)
    return targets[name]


@pytest.fixture(scope="session")
def gate_target(request: pytest.FixtureRequest) -> Target:
    """The ``Target`` of one selected environment (parametrized by the plugin, ids = env names)."""
    name = getattr(request, "param", None)
    if not isinstance(name, str):
        pytest.fail(
            "gate_target is not parametrized: the promorang_gate plugin parametrizes it with the "
            "selected environments (--env); do not parametrize it yourself and make sure the "
            "plugin is active (not disabled with -p no:promorang_gate)",
            pytrace=False,
        )
    provider = request.config.stash.get(state.SANDBOX, None)
    if provider is not None and provider.booting:
        warmup.run_prepared(request)  # what the checks need anyway, while the sandbox starts
    target = _resolve_target(request.config, name)
    _redactor(request.config, target)
    return target


@pytest.fixture(scope="session")
def gate_run_id(request: pytest.FixtureRequest) -> str:
    """The run id shared by controller and workers, e.g. ``gr20261125t164700-3fa2c1``."""
    run_id = request.config.stash.get(state.RUN_ID, None)
    if run_id is None:
        pytest.fail("gate_run_id: no run id in the stash; is the promorang_gate plugin active?")
    return run_id


@pytest.fixture(scope="session")
def gate_tag(gate_run_id: str) -> str:
    """Tag for everything a test creates (object names, content titles): ``gate-<run id>``."""
    return f"gate-{gate_run_id}"


def _http(config: pytest.Config, target: Target, base_url: str | None, **kw: Any) -> GateHttp:
    return GateHttp(
        target.name,
        base_url,
        target.request_timeout_s,
        target.writes_allowed,
        _redactor(config, target),
        deadline_s=target.request_deadline_s,
        max_body_bytes=target.max_body_bytes,
        vercel_bypass=VercelBypass.of(target),
        **kw,
    )


@pytest.fixture(scope="session")
def gate_api(request: pytest.FixtureRequest, gate_target: Target) -> Iterator[GateHttp]:
    """``GateHttp`` bound to the env's API (creator token as Bearer when the env has one,
    renewed by a new sign-in when it expires during the run)."""
    headers = {}
    auth = None
    if gate_target.creator_token:
        headers["Authorization"] = f"Bearer {gate_target.creator_token}"
        auth = CreatorAuth(gate_target, _redactor(request.config, gate_target))
    http = _http(
        request.config, gate_target, gate_target.api_url, default_headers=headers, auth=auth
    )
    try:
        yield http
    finally:
        http.close()


@pytest.fixture(scope="session")
def gate_creator_auth(gate_target: Target, gate_api: GateHttp) -> CreatorAuth | None:
    """The creator's token as ``gate_api`` keeps it (``CreatorAuth``), for clients that are not
    ``gate_api`` (the contract's requests session): ``current()`` before a request,
    ``resend_with()`` on its answer, so that a token that expires mid-run is renewed, or the run
    stopped, by one rule; None without a creator token."""
    auth = gate_api.client.auth
    return auth if isinstance(auth, CreatorAuth) else None


@pytest.fixture(scope="session")
def gate_creator_token(gate_creator_auth: CreatorAuth | None) -> Callable[[], str] | None:
    """The creator's token as of now, renewed like ``gate_api``'s when it nears its expiry;
    None without one."""
    return gate_creator_auth.current if gate_creator_auth is not None else None


@pytest.fixture(scope="session")
def gate_http(request: pytest.FixtureRequest, gate_target: Target) -> Iterator[GateHttp]:
    """``GateHttp`` without base URL (public object URLs, the frontend)."""
    http = _http(request.config, gate_target, None)
    try:
        yield http
    finally:
        http.close()


@pytest.fixture(scope="session")
def gate_supabase(request: pytest.FixtureRequest, gate_target: Target) -> Iterator[supabase.Client]:
    """Service-role supabase-py client; its traffic goes through a guarded ``GateHttp``."""
    refuse_given_up(gate_target.supabase_url, "the Supabase client's requests")
    http = _http(request.config, gate_target, None)
    try:
        yield make_supabase(gate_target, http.client)
    finally:
        http.close()


@pytest.fixture(scope="session")
def gate_db(
    gate_target: Target,
) -> Iterator[psycopg.Connection[tuple[Any, ...]] | ReadOnlyConnection | None]:
    """Autocommit connection; without writes a ``ReadOnlyConnection`` (every use a read-only
    transaction, rolled back); None without a database URL."""
    conn = connect_db(gate_target)
    try:
        yield conn
    finally:
        if conn is not None:
            conn.close()


@pytest.fixture
def gate_stored(
    request: pytest.FixtureRequest,
    gate_db: psycopg.Connection[tuple[Any, ...]] | ReadOnlyConnection | None,
) -> StoredState:
    """Read-back of what the deployment stored; the Supabase client is made only if needed."""
    return StoredState(gate_db, lambda: request.getfixturevalue("gate_supabase"))


class ReadyWaiter:
    """``gate_ready(probe, what)``: ``wait_ready`` bound to the env's readiness budget."""

    def __init__(self, target: Target, redactor: Redactor, config: pytest.Config) -> None:
        self.target = target
        self._redactor = redactor
        self._config = config

    def _log(self, line: str) -> None:
        _log.info("%s", line)
        if self._config.get_verbosity() > 0:
            reporter = self._config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"[{self.target.name}] {line}")

    def __call__(self, probe: Callable[[], T], what: str, *, interval_s: float = 0.25) -> T:
        __tracebackhide__ = True
        return wait_ready(
            probe,
            what=f"{self.target.name}: {what}",
            budget_s=self.target.readiness_budget_s,
            interval_s=interval_s,
            log=self._log,
            redact=self._redactor.redact,
        )


@pytest.fixture(scope="session")
def gate_ready(request: pytest.FixtureRequest, gate_target: Target) -> ReadyWaiter:
    """Poll a probe until it passes, within the env's ``readiness_budget_s`` (tenacity)."""
    return ReadyWaiter(gate_target, _redactor(request.config, gate_target), request.config)


@pytest.fixture(scope="session")
def gate_ledger_factory(
    request: pytest.FixtureRequest, gate_target: Target, gate_run_id: str
) -> Callable[[], CleanupLedger]:
    """Makes cleanup ledgers for fixtures wider than one test; their owner calls ``cleanup()``
    in a ``finally``. Tests use ``gate_ledger``."""
    redactor = _redactor(request.config, gate_target)

    def supabase_factory() -> supabase.Client:
        if not gate_target.writes_allowed:  # nothing was created, nothing is sent
            raise RuntimeError(f"no writes on {gate_target.name}: nothing to clean up")
        client: supabase.Client = request.getfixturevalue("gate_supabase")
        return client

    def make() -> CleanupLedger:
        return CleanupLedger(
            gate_target,
            supabase_factory,
            lambda: connect_db_for_writes(gate_target),
            logging.getLogger("promorang_gate.cleanup.ledger").info,
            redact=redactor.redact,
            run_id=gate_run_id,
        )

    return make


@pytest.fixture
def gate_ledger(gate_ledger_factory: Callable[[], CleanupLedger]) -> Iterator[CleanupLedger]:
    """Registry of what the test creates; all of it is removed at teardown, also on failure."""
    ledger = gate_ledger_factory()
    try:
        yield ledger
    finally:
        ledger.cleanup()


class GateMetrics:
    """``record(name, value)``: figures written into the gate file under the item."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def record(self, name: str, value: Any) -> None:
        payload = json.dumps({"name": name, "value": value})
        self._node.user_properties.append((METRIC_PROPERTY, payload))

    __call__ = record

    def attach_histogram(self, latencies_s: list[float], budget_s: float) -> None:
        """Attach a latency histogram (SVG, budget line drawn) to the Allure result."""
        attach_svg("latency histogram", latency_histogram_svg(latencies_s, budget_s))


@pytest.fixture
def gate_metrics(request: pytest.FixtureRequest) -> GateMetrics:
    """Record named figures (JSON values) for the gate file."""
    node = request.node
    assert isinstance(node, pytest.Item)
    return GateMetrics(node)


@pytest.fixture
def gate_baseline(request: pytest.FixtureRequest, gate_target: Target) -> Comparison:
    """The test's regression item (its checklist's ``baseline:``) compared with the last allowed
    gate run of this env and gate (``reports/history/<env>.jsonl``); skips (item
    ``not_verified``, never green) when no such run recorded the figure."""
    from promorang_gate.decision.baseline import compare_with_last, declared

    config = request.config
    catalog = config.stash[state.CHECKLISTS]
    marked = [i for m in request.node.iter_markers("checklist") for i in m.args]
    items = [catalog.items[i] for i in marked if i in catalog.items and catalog.items[i].baseline]
    if len(items) != 1:
        pytest.fail(f"gate_baseline: {request.node.nodeid} claims no one item with a 'baseline'")
    item, env = items[0], gate_target.name
    gate = config.stash[state.GATE_NAMES].get(env, "")
    comparison = compare_with_last(config.stash[state.REPORTS_DIR], env, gate, item)
    if comparison is None:
        wanted = declared(item)
        pytest.skip(
            f"no baseline: no allowed run of gate {gate} on {env} recorded {wanted.item}'s"
            f" {wanted.metric} in reports/history/{env}.jsonl (an allowed run records it for"
            " the next)"
        )
    return comparison


# -- the release under test: the application's repository ---------------------------------------


@pytest.fixture(scope="session")
def gate_app_repo(gate_target: Target) -> AppRepo:
    """The checkout of the application being released; without one, its checks are skipped
    (items ``not_verified``) with a reason naming ``--app-repo`` and ``GATE_<ENV>_APP_REPO``."""
    if not gate_target.app_repo:
        pytest.skip(missing_reason(gate_target.name))
    return AppRepo(gate_target.app_repo)


@pytest.fixture(scope="session")
def gate_release_date(request: pytest.FixtureRequest) -> ReleaseDate:
    """The release whose notes are read: ``--release-date``, else today."""
    release = request.config.stash.get(state.RELEASE_DATE, None)
    if release is None:
        pytest.fail("gate_release_date: no release date in the stash; is the plugin active?")
    return release


@pytest.fixture
def gate_migration_ledger(
    gate_target: Target, gate_db: psycopg.Connection[tuple[Any, ...]] | None
) -> Ledger:
    """The target's ``supabase_migrations.schema_migrations``; skipped without a database URL
    (it is not reachable through the REST API)."""
    if gate_db is None:
        var = f"GATE_{gate_target.name.upper().replace('-', '_')}_DATABASE_URL"
        pytest.skip(
            f"the migration ledger of env '{gate_target.name}' needs a database URL: set {var}"
            " (the promotion gate needs it)"
        )
    return read_ledger(gate_db)
