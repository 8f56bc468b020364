"""The bad-input table: every mistake a user (or an attacker with a say in the configuration)
can make ends in one line, its own exit code, no traceback, no hang, nothing written and no
secret in the output.

pytest runs: exit code 4 (usage error). ``promorang-gate janitor``: 2 usage/refused,
3 unreachable, 4 key rejected, 5 bucket missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from promorang_sandbox.state import REQUIRED_FIELDS

KEY = "sk-canary-table-7f3a9c"
PASSWORD = "pw-canary-table-55aa"
DSN = f"postgresql://gate:{PASSWORD}@127.0.0.1:1/gate"
SECRET_SUFFIXES = ("_SERVICE_ROLE_KEY", "_DATABASE_URL", "_CREATOR_TOKEN", "_STRIPE_WEBHOOK_SECRET")
BOUND_S = 30.0
SUITE = """
import pytest

@pytest.mark.checklist("health.api")
def test_api(gate_target):
    assert gate_target.name
"""


def _alias_bomb(top: str) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, prev in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return f"{top}\n" + "\n".join(lines) + "\n"


SIGNOFF = "- item: slo.storage_quota\n  by: alice\n  at: {at}\n  env: local\n"
GOOD_STATE = {
    k: f"http://127.0.0.1:1/{k}" if k.endswith("url") else f"{k}-value" for k in REQUIRED_FIELDS
}


@dataclass(frozen=True)
class Case:
    fragment: str
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    args: tuple[str, ...] = ("--env", "local")


def _var(name: str, value: str, fragment: str) -> Case:
    return Case(fragment, env={f"GATE_LOCAL_{name}": value})


def _numbers() -> dict[str, Case]:
    bad = {
        "REQUEST_TIMEOUT_S": ["nan", "inf", "-1", "0"],
        "REQUEST_DEADLINE_S": ["nan", "-5", "0"],
        "READINESS_BUDGET_S": ["nan", "-inf", "-1"],
        "LATENCY_P95_BUDGET_S": ["inf", "0", "-0.5"],
        "FAILURE_RATE_BUDGET": ["nan", "1.5", "-0.1"],
        "FALLBACK_RATE_BUDGET": ["2", "NaN"],
        "SLO_UPLOADS": ["0", "-3", "99999999999999999999"],
        "SLO_CONCURRENCY": ["0", "1000"],
        "CONTRACT_MAX_EXAMPLES": ["0"],
        "CONTRACT_DEADLINE_S": ["0", "inf"],
        "MAX_BODY_BYTES": ["0", "-1"],
    }
    cases = {
        f"{name.lower()}={value}": _var(
            name, value, f"GATE_LOCAL_{name}={value!r}: must be a finite"
        )
        for name, values in bad.items()
        for value in values
    }
    cases["contract_max_examples=1e3"] = _var("CONTRACT_MAX_EXAMPLES", "1e3", "expected an integer")
    cases["max_body_bytes=12.5"] = _var("MAX_BODY_BYTES", "12.5", "expected an integer")
    cases["writes_allowed=perhaps"] = _var("WRITES_ALLOWED", "perhaps", "expected a bool")
    cases["protected=sometimes"] = _var("PROTECTED", "sometimes", "expected a bool")
    return cases


def _names_and_urls() -> dict[str, Case]:
    url = "is not a valid URL (bad characters, port or IPv6 brackets)"
    return {
        "bucket=empty": _var("BUCKET", "", "is not a valid bucket"),
        "bucket=a/b": _var("BUCKET", "a/b", "is not a valid bucket"),
        "upload_prefix=../etc": _var("UPLOAD_PREFIX", "../etc", "is not a valid upload_prefix"),
        "api_url=unbalanced-ipv6": _var("API_URL", "http://[::1", url),
        "api_url=port-70000": _var("API_URL", "http://localhost:70000", url),
        "api_url=port-abc": _var("API_URL", "http://localhost:abc", url),
        "api_url=port-0": _var("API_URL", "http://localhost:0", "has port 0"),
        "api_url=ftp": _var("API_URL", "ftp://example.com", "is not an http(s) URL"),
        "api_url=space": _var("API_URL", "http://exa mple.com", url),
        "api_url=credentials": _var(
            "API_URL", "http://deploy:pw-in-url-9c1e@example.com", "carries credentials"
        ),
        "frontend_url=empty": _var("FRONTEND_URL", "", "is not an http(s) URL"),
        "option-api-url=ipv6-port": Case(
            url, args=("--env", "local", "--api-url", "http://[::1]:99999")
        ),
        "option-supabase-url=no-host": Case(
            "is not an http(s) URL", args=("--env", "local", "--supabase-url", "https://")
        ),
    }


def _secrets() -> dict[str, Case]:
    short = "is shorter than 8 characters"
    return {
        "service_role_key=short": _var("SERVICE_ROLE_KEY", "shrt7", short),
        "creator_token=short": _var("CREATOR_TOKEN", "tok42", short),
        "stripe_secret=short": _var("STRIPE_WEBHOOK_SECRET", "whsec", short),
        "database_url=short-password": _var(
            "DATABASE_URL", "postgresql://u:pw1@db.example/x", "the password in"
        ),
        "database_url=not-a-dsn": _var("DATABASE_URL", "hello", "not a PostgreSQL connection"),
        "database_url=port": _var(
            "DATABASE_URL", f"postgresql://u:{PASSWORD}@db:99999/x", "not a valid PostgreSQL URL"
        ),
        "database_url=mysql": _var(
            "DATABASE_URL", f"mysql://u:{PASSWORD}@db/x", "not a valid PostgreSQL URL"
        ),
        "dotenv=no-equals": Case(
            ".env.local, line 2: expected KEY=VALUE",
            files={".env.local": "# secrets\nGATE_LOCAL_CREATOR_TOKEN\n"},
        ),
    }


def _protected() -> dict[str, Case]:
    prod = ("--env", "prod", "--supabase-url", "https://p.example.com")
    base = {"GATE_PROD_SERVICE_ROLE_KEY": KEY}
    return {
        "prod-writes-variable": Case(
            "GATE_PROD_WRITES_ALLOWED=true: env 'prod' is protected",
            env={**base, "GATE_PROD_WRITES_ALLOWED": "true"},
            args=prod,
        ),
        "prod-embedded-variable": Case(
            "GATE_PROD_EMBEDDED=true: env 'prod' is protected",
            env={**base, "GATE_PROD_EMBEDDED": "true"},
            args=prod,
        ),
        "prod-unprotect-variable": Case(
            "GATE_PROD_PROTECTED=off: env 'prod' is protected and stays protected",
            env={**base, "GATE_PROD_PROTECTED": "off"},
            args=prod,
        ),
        "prod-writes-profile": Case(
            "prod.toml sets writes_allowed = True",
            env=base,
            files={"environments/prod.toml": "writes_allowed = true\n"},
            args=prod,
        ),
        "prod-embedded-dotenv": Case(
            "GATE_PROD_EMBEDDED=1 in .env.prod",
            env=base,
            files={".env.prod": "GATE_PROD_EMBEDDED=1\n"},
            args=prod,
        ),
    }


def _profiles() -> dict[str, Case]:
    return {
        "profile-nan": Case(
            "request_timeout_s from profile",
            files={"environments/local.toml": "request_timeout_s = nan\n"},
        ),
        "profile-negative": Case(
            "slo_uploads from profile", files={"environments/local.toml": "slo_uploads = -1\n"}
        ),
        "profile-unknown-key": Case(
            "unknown key(s) color", files={"environments/local.toml": "color = 'red'\n"}
        ),
        "profile-not-toml": Case(
            "environment profile", files={"environments/local.toml": "api_url = [\n"}
        ),
        "profile-without-urls": Case(
            "env 'qa': api_url is not set",
            env={"GATE_QA_SERVICE_ROLE_KEY": KEY},
            files={"environments/qa.toml": "writes_allowed = false\n"},
            args=("--env", "qa"),
        ),
    }


def _checklists() -> dict[str, Case]:
    where = "checklists/bad.yaml"
    head = "id: bad\ntitle: Bad\nitems:\n  - id: bad.x\n    text: x\n"
    cases = {
        "checklist-alias-bomb": (_alias_bomb(head), "aliases (*name) are not allowed"),
        "checklist-alias": (head + "extra: &e 1\nmore: *e\n", "aliases (*name) are not allowed"),
        "checklist-duplicate-key": (head + "title: Again\n", "duplicate key 'title'"),
        "checklist-duplicate-item-key": (
            "id: bad\ntitle: Bad\nitems:\n  - id: bad.x\n    text: x\n    text: y\n",
            "duplicate key 'text'",
        ),
        "checklist-not-yaml": ("id: [unbalanced\n", "not readable YAML: line"),
        "checklist-binary": (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        "checklist-empty": ("", "expected a mapping"),
        "checklist-huge": ("# " + "x" * (1024 * 1024 + 10) + "\n", "over the limit of 1048576"),
        "checklist-deep": ("[" * 20000 + "]" * 20000, "checklist file"),
        "checklist-list": ("- a\n- b\n", "expected a mapping"),
    }
    return {name: Case(fragment, files={where: text}) for name, (text, fragment) in cases.items()}


def _signoffs() -> dict[str, Case]:
    where = "checklists/signoffs/local.yaml"
    cases = {
        "signoff-future": (SIGNOFF.format(at="2999-01-01T00:00:00Z"), "is in the future"),
        "signoff-future-date": (SIGNOFF.format(at="2999-01-01"), "is in the future"),
        "signoff-future-text": (SIGNOFF.format(at="'2999-01-01T10:00:00+02:00'"), "in the future"),
        "signoff-alias-bomb": (_alias_bomb("# sign-offs"), "aliases (*name) are not allowed"),
        "signoff-duplicate-key": (
            SIGNOFF.format(at="2026-01-01") + "  by: mallory\n",
            "duplicate key 'by'",
        ),
        "signoff-not-a-list": ("item: slo.storage_quota\n", "expected a list"),
        "signoff-bad-date": (SIGNOFF.format(at="yesterday"), "'at' must be an ISO date-time"),
        "signoff-huge-by": (
            SIGNOFF.format(at="2026-01-01").replace("by: alice", "by: [" + "1," * 5000 + "1]"),
            "'by' must be a non-empty string, got a list of 5001 entries",
        ),
    }
    return {name: Case(fragment, files={where: text}) for name, (text, fragment) in cases.items()}


def _state_files() -> dict[str, Case]:
    args = ("--env", "sandbox", "--sandbox-state", "state.json")
    cases: dict[str, tuple[str | bytes, str]] = {
        "state-garbage": ("garbage", "not JSON"),
        "state-empty": ("", "not JSON"),
        "state-binary": (b"\x00\xff\xfe", "not JSON"),
        "state-list": ("[1, 2]", "expected a JSON object"),
        "state-missing-keys": (json.dumps({"api_url": "http://x"}), "missing or not text: "),
        "state-number": (json.dumps({**GOOD_STATE, "bucket": 7}), "missing or not text: bucket"),
        "state-not-http": (json.dumps({**GOOD_STATE, "api_url": "ftp://x"}), "api_url is not an"),
        "state-bad-port": (
            json.dumps({**GOOD_STATE, "supabase_url": "http://h:99999"}),
            "supabase_url is not an",
        ),
        "state-faults": (json.dumps({**GOOD_STATE, "faults": "all"}), "faults is not a list"),
        "state-huge": (json.dumps({**GOOD_STATE, "pad": "x" * 70000}), "larger than 65536"),
    }
    return {
        name: Case(fragment, files={"state.json": text}, args=args)
        for name, (text, fragment) in cases.items()
    }


def _options() -> dict[str, Case]:
    return {
        "env-empty": Case("--env names no environment", args=("--env", "")),
        "env-commas": Case("--env names no environment", args=("--env", ",,")),
        "env-unknown": Case("unknown environment 'moon'", args=("--env", "moon")),
        "signoff-option": Case("expected ITEM=WHO", args=("--env", "local", "--signoff", "x")),
        "sandbox-fault-unknown": Case(
            "unknown fault(s) nope", args=("--env", "sandbox", "--sandbox-fault", "nope")
        ),
        "sandbox-fault-without-sandbox": Case(
            "--sandbox-fault needs the embedded sandbox env",
            args=("--env", "local", "--sandbox-fault", "delete_noop"),
        ),
        "reports-under-a-file": Case(
            "is not a directory",
            files={"afile": "x"},
            args=("--env", "local", "--gate-reports", "afile/reports"),
        ),
        "reports-is-a-file": Case(
            "is not a directory",
            files={"afile": "x"},
            args=("--env", "local", "--gate-reports", "afile"),
        ),
    }


PYTEST_CASES = {
    **_numbers(),
    **_names_and_urls(),
    **_secrets(),
    **_protected(),
    **_profiles(),
    **_checklists(),
    **_signoffs(),
    **_state_files(),
    **_options(),
}


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """A hang becomes a failure of this test (the run is in this process: SIGALRM stops it)."""

    def fire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the run did not end within {seconds}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}


def _secrets_of(env: Mapping[str, str]) -> list[str]:
    return [v for k, v in env.items() if k.endswith(SECRET_SUFFIXES) and v] + [KEY, PASSWORD]


def test_the_table_has_at_least_70_cases() -> None:
    assert len(PYTEST_CASES) + len(JANITOR_CASES) >= 70


@pytest.mark.parametrize("case", list(PYTEST_CASES.values()), ids=list(PYTEST_CASES))
def test_bad_input_to_a_run(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, case: Case
) -> None:
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", KEY)
    clean_env.setenv("GATE_LOCAL_DATABASE_URL", DSN)
    for name, value in case.env.items():
        clean_env.setenv(name, value)
    for relative, content in case.files.items():
        path = project.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    project.makepyfile(SUITE)
    before = _tree(project.path)
    with bounded(BOUND_S):
        result = project.runpytest(*case.args)
    output = result.stdout.str() + result.stderr.str()
    errors = [line for line in result.errlines if line.strip()]
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert len(errors) == 1, errors
    assert errors[0].startswith("ERROR: ")
    assert case.fragment in errors[0], errors[0]
    assert len(errors[0]) < 1000
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    assert _tree(project.path) == before  # nothing written
    for secret in _secrets_of({**os.environ, **case.env}):
        assert secret not in output


# -- the janitor command ---------------------------------------------------------------------


@dataclass(frozen=True)
class JanitorCase:
    code: int
    fragment: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    state: Mapping[str, Any] | None = None  # over the sandbox's state (needs the sandbox)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# A JWT of the right shape, signed with another secret: the gateway must reject it.
FORGED = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0"
    ".Zm9yZ2VkLXNpZ25hdHVyZS1jYW5hcnktMDAx"
)
JANITOR_CASES = {
    "janitor-unknown-env": JanitorCase(2, "unknown environment 'moon'", ("--env", "moon")),
    "janitor-bad-age": JanitorCase(
        2, "--older-than 'soon'", ("--env", "local", "--older-than", "soon")
    ),
    "janitor-huge-age": JanitorCase(
        2, "at most 3650d", ("--env", "local", "--older-than", "99999999999d")
    ),
    "janitor-missing-secret": JanitorCase(
        2, "set GATE_STAGING_SERVICE_ROLE_KEY", ("--env", "staging")
    ),
    "janitor-prod-refused": JanitorCase(
        2,
        "janitor: refused: writes are not allowed on prod (a protected environment)",
        ("--env", "prod"),
        {"GATE_PROD_SERVICE_ROLE_KEY": KEY, "GATE_PROD_SUPABASE_URL": "https://p.example.com"},
    ),
    "janitor-prod-unlock": JanitorCase(
        2,
        "GATE_PROD_WRITES_ALLOWED=true: env 'prod' is protected",
        ("--env", "prod"),
        {
            "GATE_PROD_SERVICE_ROLE_KEY": KEY,
            "GATE_PROD_SUPABASE_URL": "https://p.example.com",
            "GATE_PROD_WRITES_ALLOWED": "true",
        },
    ),
    "janitor-sandbox-without-state": JanitorCase(
        2, "needs a running sandbox", ("--env", "sandbox")
    ),
    "janitor-garbage-state": JanitorCase(
        2, "not JSON", ("--env", "sandbox"), state={"garbage": True}
    ),
    "janitor-unreachable": JanitorCase(
        3, "is unreachable", ("--env", "local"), {"GATE_LOCAL_SUPABASE_URL": "closed"}
    ),
    "janitor-wrong-key": JanitorCase(
        4, "rejected the service-role key", ("--env", "sandbox"), state={"service_role_key": FORGED}
    ),
    "janitor-no-bucket": JanitorCase(
        5,
        "bucket 'no-such-bucket' does not exist",
        ("--env", "sandbox"),
        state={"bucket": "no-such-bucket"},
    ),
}


@pytest.mark.parametrize("case", list(JANITOR_CASES.values()), ids=list(JANITOR_CASES))
def test_bad_input_to_the_janitor(
    case: JanitorCase, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_")}
    env.pop("PROMORANG_SANDBOX_STATE", None)
    env["GATE_LOCAL_SERVICE_ROLE_KEY"] = KEY
    env["GATE_LOCAL_DATABASE_URL"] = DSN
    env["GATE_LOCAL_REQUEST_DEADLINE_S"] = "5"
    env.update(case.env)
    if env.get("GATE_LOCAL_SUPABASE_URL") == "closed":
        env["GATE_LOCAL_SUPABASE_URL"] = f"http://127.0.0.1:{_closed_port()}"
    args = ["janitor", *case.args, "--rootdir", str(tmp_path)]
    if case.state is not None:
        state_file = tmp_path / "state.json"
        if "garbage" in case.state:
            state_file.write_text("garbage", encoding="utf-8")
        else:
            sandbox = request.getfixturevalue("sandbox")
            state_file.write_text(json.dumps({**json.loads(sandbox.state.to_json()), **case.state}))
        args += [f"--sandbox-state={state_file}"]
    proc = subprocess.run(
        [sys.executable, "-m", "promorang_gate.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    output = proc.stdout + proc.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    assert proc.returncode == case.code, output
    assert len(lines) == 1, lines
    assert case.fragment in lines[0], lines[0]
    assert "Traceback" not in output
    assert not any(line.startswith("removed ") for line in lines)
    for secret in [*_secrets_of(env), FORGED]:
        assert secret not in output
