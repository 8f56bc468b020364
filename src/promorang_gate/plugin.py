"""The pytest plugin: options, ini keys, markers and hooks. It only wires; the work is done in
``environments``, ``checklists``, ``verdict``, ``reports`` and ``sandbox_target``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import gc
import itertools
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from promorang_gate import state, warmup
from promorang_gate._xdist import XdistControllerHooks
from promorang_gate.cleanup import interrupts
from promorang_gate.collection import (
    add_failure_reason,
    record_deselected,
    redact_report,
    tag_items,
)
from promorang_gate.decision.checklists import (
    Catalog,
    SignOff,
    load_catalog,
    load_signoffs,
    parse_signoff_options,
)
from promorang_gate.decision.criteria import DEFAULT_SIGNOFF_MAX_AGE, Criteria, criteria_in_force
from promorang_gate.decision.gates import (
    GateChoice,
    choose_gate,
    load_gates,
    refuse_writes_on_read_only,
)
from promorang_gate.decision.observed import OutcomeObserver
from promorang_gate.decision.signing import signing_key
from promorang_gate.decision.webhook_scope import not_required as webhooks_not_required
from promorang_gate.decision.webhook_scope import scoped
from promorang_gate.durations import parse_duration
from promorang_gate.errors import ConfigError
from promorang_gate.release.app_repo import KEY as APP_REPO_KEY
from promorang_gate.release.app_repo import header_line as app_repo_header
from promorang_gate.release.app_repo import parse_release_date, with_app_repos
from promorang_gate.reporting.allure_tests import AllureTestDetails
from promorang_gate.reporting.junit import claim_default_junit
from promorang_gate.reporting.reports import GateReporter, void_previous
from promorang_gate.reporting.tracebacks import (
    share_statement_ranges,
    trim_library_frames,
    unshare_statement_ranges,
)
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target import breaker
from promorang_gate.target.credentials import check_credentials
from promorang_gate.target.environments import (
    SECRET_KEYS,
    URL_KEYS,
    EnvSettings,
    known_environments,
    parse_env_selection,
    parse_url_options,
    resolve_settings,
)
from promorang_gate.target.preflight import check_reachable
from promorang_gate.target.sandbox_target import (
    SandboxProvider,
    TargetRegistry,
    load_state_file,
    state_file_from,
)
from promorang_gate.target.validation import check_output_dir

CHECKLIST_MARKER = (
    "checklist(*ids): the Operations Runbook checklist items this test verifies, e.g."
    ' @pytest.mark.checklist("create_flow.upload_image"); ids are defined in the checklists'
    " directory (ini gate_checklists)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promorang-gate", "promorang-gate: the deploy gate")
    group.addoption(
        "--env",
        action="append",
        dest="gate_env",
        metavar="NAME",
        help="environment(s) to gate, repeatable or comma separated (default: sandbox)",
    )
    for key, flag in (
        ("api_url", "--api-url"),
        ("frontend_url", "--frontend-url"),
        ("supabase_url", "--supabase-url"),
    ):
        group.addoption(
            flag,
            action="append",
            dest=f"gate_{key}",
            metavar="[ENV=]URL",
            help=f"override {key}: URL with one env selected, else ENV=URL (repeatable)",
        )
    group.addoption(
        "--gate",
        dest="gate_name",
        metavar="NAME",
        help="the gate (checklists/gates.yaml) that judges every selected env"
        " (default: each env profile's gate; a -m naming a gate picks it too)",
    )
    group.addoption(
        "--signoff",
        action="append",
        dest="gate_signoff",
        metavar="ITEM=WHO",
        help="sign off a manual checklist item for every selected env (repeatable); needs"
        " --signoff-note, and the gate file lists it among its flags",
    )
    group.addoption(
        "--signoff-note",
        dest="gate_signoff_note",
        metavar="TEXT",
        help="what was checked for the --signoff items and where the evidence is",
    )
    group.addoption(
        "--sandbox-fault",
        action="append",
        dest="gate_sandbox_fault",
        metavar="NAME",
        help="start the embedded sandbox with this fault (repeatable)",
    )
    group.addoption(
        "--sandbox-state",
        dest="gate_sandbox_state",
        metavar="PATH",
        help="attach to a running sandbox through its state file"
        " (default: $PROMORANG_SANDBOX_STATE; else one is started)",
    )
    group.addoption(
        "--gate-reports",
        dest="gate_reports",
        metavar="DIR",
        help="directory of gate-<env>.json and checklist-<env>.md (default: ini gate_reports)",
    )
    group.addoption(
        "--app-repo",
        action="append",
        dest="gate_app_repo",
        metavar="[ENV=]PATH",
        help="checkout of the application being released: PATH for every env, else ENV=PATH"
        " (default: $GATE_<ENV>_APP_REPO, ini gate_app_repo, the sandbox's own)",
    )
    group.addoption(
        "--release-date",
        dest="gate_release_date",
        metavar="YYYY-MM-DD",
        help="the release whose notes (docs/releases/<date>.md) are checked (default: today)",
    )
    group.addoption(
        "--expect-commit",
        dest="gate_expect_commit",
        metavar="SHA",
        help="the release's commit: release.identity fails when the deployment states another"
        " (default: GATE_<ENV>_EXPECT_COMMIT, else the application repository's HEAD)",
    )
    parser.addini("gate_app_repo", "checkout of the application being released", default="")
    parser.addini("gate_checklists", "directory of checklist YAML files", default="checklists")
    parser.addini("gate_reports", "directory the verdict files are written to", default="reports")
    parser.addini(
        "gate_environments", "directory of project environment profiles", default="environments"
    )
    parser.addini(
        "gate_signoff_max_age",
        "how long a sign-off counts, e.g. 7d or 36h (standing sign-offs never expire)",
        default=DEFAULT_SIGNOFF_MAX_AGE,
    )


# Options whose value is a path. pytest finds its rootdir before it knows a plugin's options,
# so a path given as a separate word is read as a test path and can move the rootdir.
PATH_OPTIONS = ("--app-repo", "--gate-reports", "--sandbox-state")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def new_run_id(now: dt.datetime | None = None) -> str:
    """``gr<UTC yyyymmddThhmmss>-<6 hex>``, lower case."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S").lower()
    return f"gr{stamp}-{secrets.token_hex(3)}"


def _ini_path(config: pytest.Config, name: str) -> Path:
    return config.rootpath / str(config.getini(name))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # What an earlier run in this process set aside from the garbage collector (its collection,
    # its warmup: pytest_collection_finish) is collectable again: given back here, not at that
    # run's end, where the process of a run from the command line only exits. Given back then,
    # pytest's last collections and the interpreter's shutdown walked and freed all of it: 0.5 s
    # of every run's end (measured: from unconfigure to the exit 1.2-1.5 s -> 0.6-1.0 s).
    gc.unfreeze()
    config.addinivalue_line("markers", CHECKLIST_MARKER)
    config.pluginmanager.import_plugin("promorang_gate.fixtures")
    config.pluginmanager.register(_OutermostRedaction(), "promorang-gate-outermost-redaction")
    config.pluginmanager.register(OutcomeObserver(config), "promorang-gate-observer")
    interrupts.install(config)
    share_statement_ranges(config)
    breaker.reset()  # a run starts trusting every origin (in-process runs share the module)
    try:
        _configure(config)
    except ConfigError as exc:
        if not _is_worker(config):
            # No verdict: an earlier run's gate files must not pass for this run's.
            void_previous(_reports_dir(config), None, new_run_id(), "a usage error")
        # The message may quote a URL or value the user gave: redact it like any output.
        raise pytest.UsageError(_secrets_redactor(os.environ).redact(str(exc))) from None


def _secrets_redactor(environ: Mapping[str, str]) -> Redactor:
    """Redactor knowing every secret variable that is set, before the envs are resolved."""
    suffixes = (*(f"_{key.upper()}" for key in SECRET_KEYS), "_SIGNING_KEY")
    return Redactor(
        value
        for name, value in environ.items()
        if name.startswith("GATE_") and name.endswith(suffixes)
    )


def _refuse_separated_paths(args: Sequence[str], cwd: Path) -> None:
    """A path outside the invocation directory, given as a separate word, would have moved the
    rootdir (to that path's ancestors): refused, with the one-word form to use instead."""
    for flag, value in itertools.pairwise(args):
        path = (cwd / value).resolve()
        if flag in PATH_OPTIONS and path.exists() and not path.is_relative_to(cwd.resolve()):
            raise ConfigError(
                f"{flag} {value}: write {flag}={value} (one word): pytest reads a path given"
                " as a separate word as a test path while it looks for the project's rootdir"
            )


def _configure(config: pytest.Config) -> None:
    opt = config.option
    _refuse_separated_paths(config.invocation_params.args, config.invocation_params.dir)
    names, settings = _settings(config)
    # Everything decidable offline is checked before the preflight reaches for the network.
    catalog = load_catalog(_ini_path(config, "gate_checklists"))
    gates = _choose_gates(config, catalog, settings) if catalog.checklists else {}
    if not _is_worker(config):
        check_output_dir(_reports_dir(config), "reports directory")
        if not opt.collectonly:
            remote = [env.target() for env in settings.values() if not env.embedded]
            check_reachable(remote)
    if not opt.collectonly:
        from promorang_gate.target.signin import sign_in_users, with_tokens

        shared = getattr(config, "workerinput", {}).get("gate_signed_in")
        settings = with_tokens(settings, shared) if shared else sign_in_users(settings)
        if not _is_worker(config):
            # The signed-in tokens are proven with the static ones (check_credentials).
            check_credentials([env.target() for env in settings.values() if not env.embedded])
    redactor = Redactor(
        [str(v) for env in settings.values() for v in env.secrets.values() if v is not None]
        + [key for key in (signing_key(os.environ),) if key]
    )
    signoffs = _signoffs(config, catalog, names, redactor)
    _refuse_standing_outside_the_sandbox(signoffs, settings, catalog)
    provider = _sandbox_provider(config, settings, redactor)
    if provider is not None:
        config.stash[state.SANDBOX] = provider  # stopped at unconfigure, however the run ends
        if not _is_worker(config) and _runs_tests(config):
            provider.spawn()  # it boots while the run collects and prepares its checks
    worker_input: dict[str, Any] = getattr(config, "workerinput", {})
    run_id = str(worker_input.get("gate_run_id") or new_run_id())
    targets = TargetRegistry(settings, provider)

    config.stash[state.ENV_NAMES] = names
    config.stash[state.SETTINGS] = settings
    config.stash[state.REDACTOR] = redactor
    config.stash[state.CHECKLISTS] = catalog
    config.stash[state.SIGNOFFS] = signoffs
    config.stash[state.RUN_ID] = run_id
    config.stash[state.TARGETS] = targets
    config.stash[state.GATE_NAMES] = {env: choice.gate.name for env, choice in gates.items()}
    config.stash[state.REPORTS_DIR] = _reports_dir(config)
    if getattr(opt, "allure_report_dir", None):
        config.pluginmanager.register(AllureTestDetails(config), "promorang-gate-allure-tests")
    if _is_worker(config) or not catalog.checklists:
        return  # workers only run tests; without checklists there is nothing to judge
    _register_reporter(config, names, settings, catalog, gates, signoffs, redactor)


# pytest options under which a run shows something and runs no test.
_NO_TESTS = ("collectonly", "help", "version", "showfixtures", "show_fixtures_per_test", "markers")


def _runs_tests(config: pytest.Config) -> bool:
    return not any(getattr(config.option, name, False) for name in _NO_TESTS)


def _settings(config: pytest.Config) -> tuple[list[str], dict[str, EnvSettings]]:
    """The selected envs and their resolved settings (application repository included)."""
    opt = config.option
    env_dir = _ini_path(config, "gate_environments")
    names = parse_env_selection(opt.gate_env, known_environments(env_dir))
    url_options = parse_url_options({k: getattr(opt, f"gate_{k}") for k in URL_KEYS}, names)
    settings = resolve_settings(names, os.environ, url_options, config.rootpath, env_dir)
    settings = with_app_repos(
        settings,
        opt.gate_app_repo,
        os.environ,
        str(config.getini("gate_app_repo")),
        config.invocation_params.dir,
        config.rootpath,
    )
    config.stash[state.RELEASE_DATE] = parse_release_date(opt.gate_release_date)
    return names, settings


def _reports_dir(config: pytest.Config) -> Path:
    opt = config.option
    reports = Path(opt.gate_reports) if opt.gate_reports else _ini_path(config, "gate_reports")
    return config.rootpath / reports


def _register_reporter(
    config: pytest.Config,
    names: list[str],
    settings: Mapping[str, EnvSettings],
    catalog: Catalog,
    gates: Mapping[str, GateChoice],
    signoffs: Mapping[str, Mapping[str, SignOff]],
    redactor: Redactor,
) -> None:
    """The controller's verdict writer (and its xdist hooks)."""
    stash = config.stash
    max_age_s, max_age_source = _signoff_max_age(config)
    reports_dir = _reports_dir(config)
    reporter = GateReporter(
        env_names=names,
        catalog=catalog,
        gates=gates,
        criteria=_criteria(config, settings, gates, catalog, max_age_s, max_age_source),
        signoffs=signoffs,
        signoff_max_age_s=max_age_s,
        targets=stash[state.TARGETS],
        redactor=redactor,
        reports_dir=reports_dir,
        rootdir=config.rootpath,
        run_id=stash[state.RUN_ID],
        pytest_args=config.invocation_params.args,
        allure_dir=getattr(config.option, "allure_report_dir", None),
        junit=claim_default_junit(config, reports_dir, names, stash[state.RUN_ID]),
        # The repository's reports directory keeps the Trend; a run pointed elsewhere does not.
        allure_history=None if config.option.gate_reports else reports_dir / "history.jsonl",
    )
    stash[state.REPORTER] = reporter
    config.pluginmanager.register(reporter, "promorang-gate-reporter")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistControllerHooks(config), "promorang-gate-xdist")


def _choose_gates(
    config: pytest.Config, catalog: Catalog, settings: Mapping[str, EnvSettings]
) -> dict[str, GateChoice]:
    """The gate judging each env; a read-only env under a gate that needs writes is refused."""
    gates = load_gates(catalog)
    choices: dict[str, GateChoice] = {}
    for name, env in settings.items():
        choice = choose_gate(
            gates,
            option=config.option.gate_name,
            markexpr=str(config.option.markexpr or ""),
            profile_gate=str(env.values["gate"]),
            env=name,
            profile_source=env.sources.get("gate", "profile"),
        )
        choice = scoped(choice, webhooks_not_required(catalog, name, env.values, env.sources))
        writes = bool(env.values["writes_allowed"])
        refuse_writes_on_read_only(choice, catalog, name, writes, gates.values())
        choices[name] = choice
    return choices


def _signoff_max_age(config: pytest.Config) -> tuple[float, str]:
    raw = str(config.getini("gate_signoff_max_age"))
    source = "default" if raw == DEFAULT_SIGNOFF_MAX_AGE else "ini gate_signoff_max_age"
    return parse_duration(raw, "gate_signoff_max_age"), source


def _criteria(
    config: pytest.Config,
    settings: Mapping[str, EnvSettings],
    gates: Mapping[str, GateChoice],
    catalog: Catalog,
    max_age_s: float,
    max_age_source: str,
) -> dict[str, Criteria]:
    return {
        name: criteria_in_force(
            env,
            gates[name],
            catalog,
            repository_checklists=config.rootpath / "checklists",
            signoff_max_age_s=max_age_s,
            signoff_max_age_source=max_age_source,
            signoffs=list(config.stash[state.SIGNOFFS].get(name, {}).values()),
            environments_dir=_ini_path(config, "gate_environments"),
        )
        for name, env in settings.items()
    }


def _refuse_standing_outside_the_sandbox(
    signoffs: Mapping[str, Mapping[str, SignOff]],
    settings: Mapping[str, EnvSettings],
    catalog: Catalog,
) -> None:
    """A sign-off that never expires holds only for the embedded sandbox (by construction);
    for a real environment it would vouch for every later release."""
    for env, items in signoffs.items():
        standing = [s.item for s in items.values() if s.standing]
        if standing and not settings[env].embedded:
            raise ConfigError(
                f"sign-off file {catalog.directory / 'signoffs' / f'{env}.yaml'}: 'standing' is"
                f" for the embedded sandbox only; env '{env}' signs {', '.join(standing)} per"
                " release (remove 'standing')"
            )


def _signoffs(
    config: pytest.Config, catalog: Catalog, names: list[str], redactor: Redactor
) -> dict[str, dict[str, SignOff]]:
    now = dt.datetime.now(dt.UTC)
    signoffs = load_signoffs(catalog, names, now)
    given = parse_signoff_options(
        config.option.gate_signoff, catalog, names, now, config.option.gate_signoff_note
    )
    for signoff in given:
        signoffs[signoff.env][signoff.item] = signoff
    # Their texts become item reasons, cut to a length later: redacted before that.
    return {
        env: {
            item: dataclasses.replace(s, by=redactor.redact(s.by), note=redactor.redact(s.note))
            for item, s in items.items()
        }
        for env, items in signoffs.items()
    }


def _sandbox_provider(
    config: pytest.Config, settings: dict[str, EnvSettings], redactor: Redactor
) -> SandboxProvider | None:
    opt = config.option
    faults = list(opt.gate_sandbox_fault or [])
    if not any(env.embedded for env in settings.values()):
        if faults or opt.gate_sandbox_state:
            flag = "--sandbox-fault" if faults else "--sandbox-state"
            raise ConfigError(f"{flag} needs the embedded sandbox env: add --env sandbox")
        return None
    state_file = state_file_from(opt.gate_sandbox_state, os.environ)
    if faults and state_file:
        raise ConfigError(
            "--sandbox-fault starts a sandbox with faults, but a sandbox state file"
            f" ({state_file}) attaches to a running one: use one or the other"
        )
    if faults:
        _check_faults(faults)
    if state_file and not _is_worker(config):
        load_state_file(state_file)  # a garbage file is one usage error, not one per test
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    if worker_input is not None:
        return SandboxProvider(
            state_json=worker_input.get("gate_sandbox_state") or None,
            error=worker_input.get("gate_sandbox_error") or None,
            state_file=state_file,
            faults=faults,
            redactor=redactor,
        )
    return SandboxProvider(faults=faults, state_file=state_file, redactor=redactor)


def _check_faults(faults: list[str]) -> None:
    try:
        from promorang_sandbox import FAULTS
    except ImportError as exc:
        raise ConfigError(f"--sandbox-fault: the sandbox is not installed ({exc})") from None
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        # The list of faults outgrew one line: name the close ones and where the rest are.
        close = sorted({m for f in unknown for m in difflib.get_close_matches(f, FAULTS, n=3)})
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(
            f"--sandbox-fault: unknown fault(s) {', '.join(unknown)}{hint};"
            f" `promorang-sandbox faults` lists all {len(FAULTS)}"
        )


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    redactor = config.stash.get(state.REDACTOR, None)
    return (redactor.comparison(op, left, right) or None) if redactor is not None else None


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    interrupts.uninstall(config)
    unshare_statement_ranges(config)
    breaker.reset()  # nothing given up outlives the run (in-process runs share the module)
    if _is_worker(config):
        return
    provider = config.stash.get(state.SANDBOX, None)
    try:
        try:
            if provider is not None:
                provider.begin_stop()  # it shuts down (0.3-0.4 s) while the files are redacted
        finally:
            _redact_output_files(config)
    finally:
        if provider is not None:
            provider.stop()


def _redact_output_files(config: pytest.Config) -> None:
    """Last line of defence: JUnit XML and Allure results after they were written."""
    redactor = config.stash.get(state.REDACTOR, None)
    if redactor is None:
        return
    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath and Path(xmlpath).is_file():
        redactor.redact_file(xmlpath)
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir and Path(allure_dir).is_dir():
        for path in Path(allure_dir).rglob("*"):
            if path.is_file():
                redactor.redact_file(path)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(state.SETTINGS, {})
    redactor = config.stash.get(state.REDACTOR, Redactor())
    lines = [
        f"promorang-gate: env {', '.join(settings)}; run {config.stash.get(state.RUN_ID, '?')}"
    ]
    for name, env in settings.items():
        lines.append(f"  {name}:")
        for key, value in env.values.items():
            if key == APP_REPO_KEY:
                lines.append(app_repo_header(value, env.sources.get(key, "?")))
            elif env.embedded and key in URL_KEYS:
                lines.append(f"    {key}: from the embedded sandbox, started when needed")
            else:
                lines.append(f"    {key}: {value} ({env.sources.get(key, '?')})")
        for key in SECRET_KEYS:
            if env.embedded:
                lines.append(f"    {key}: from the embedded sandbox")
            elif env.secrets.get(key):
                lines.append(f"    {key}: set ({env.sources[key]})")
            else:
                lines.append(f"    {key}: not set")
    return [redactor.redact(line) for line in lines]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "gate_target" in metafunc.fixturenames:
        names = metafunc.config.stash.get(state.ENV_NAMES, [])
        metafunc.parametrize("gate_target", names, indirect=True, ids=names, scope="session")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tag each checklist test with its item ids and env (before -k/-m deselect anything)."""
    tag_items(config, items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    record_deselected(items)


# Innermost: every other wrapper (Allure's among them) sees the report already redacted.
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    trim_library_frames(item, call)
    report = yield
    redactor = item.config.stash.get(state.REDACTOR, None)
    if redactor is not None:
        redact_report(report, redactor)
        add_failure_reason(report, call, redactor)
    return report


class _OutermostRedaction:
    """pytest's xfail wrapper sets the reason after the innermost wrappers ran: redacted here,
    last, before the terminal prints it."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        redactor = item.config.stash.get(state.REDACTOR, None)
        wasxfail = getattr(report, "wasxfail", None)
        if redactor is not None and isinstance(wasxfail, str):
            report.wasxfail = redactor.redact(wasxfail)
        return report


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    redactor = collector.config.stash.get(state.REDACTOR, None)
    if redactor is not None:
        redact_report(report, redactor)
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    # What is loaded by now (pytest, its plugins, the suites and their libraries: hundreds of
    # thousands of objects) lives until the end: set aside from the garbage collector, whose
    # every full pass walked all of it (measured: the run's full passes 1.04 s -> 0.65 s, most
    # of the rest during the imports before). Given back when another run in this process
    # starts (pytest_configure).
    gc.freeze()
    warmup.prepare_engine(session.config, session.items)
