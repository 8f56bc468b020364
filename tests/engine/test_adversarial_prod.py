"""Protected production: nothing but the shipped profile opens it to writes or embedding, and its
database connection stays read-only whatever a test sends through ``gate_db``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _hostile_server import HostileServer
from engine_helpers import assert_usage_error, gate_file, item_status

SUITE = """
import pytest

@pytest.mark.checklist("health.api")
def test_write(gate_api):
    gate_api.post("/api/content", json={"title": "x"})
"""


@pytest.fixture
def prod(clean_env: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    """prod's URLs point at a server that records whether anything was sent."""
    server = HostileServer()
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_PROD_{key}", server.url)
    clean_env.setenv("GATE_PROD_PREFLIGHT", "true")  # would connect, if the run got that far
    clean_env.setenv("GATE_PROD_SERVICE_ROLE_KEY", "prod-service-role-key-0123")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("variable", "fragment"),
    [
        ("GATE_PROD_WRITES_ALLOWED", "GATE_PROD_WRITES_ALLOWED=true: env 'prod' is protected:"),
        ("GATE_PROD_EMBEDDED", "GATE_PROD_EMBEDDED=true: env 'prod' is protected:"),
    ],
)
def test_a_variable_cannot_open_prod(
    project: pytest.Pytester,
    prod: HostileServer,
    clean_env: pytest.MonkeyPatch,
    variable: str,
    fragment: str,
) -> None:
    clean_env.setenv(variable, "true")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "prod")
    assert_usage_error(result, project, fragment)
    assert prod.received == []


@pytest.mark.parametrize(
    ("where", "content", "fragment"),
    [
        ("environments/prod.toml", "writes_allowed = true\n", "sets writes_allowed = True"),
        ("environments/prod.toml", "embedded = true\n", "sets embedded = True"),
        ("environments/prod.toml", "protected = false\n", "is protected and stays protected"),
        (
            ".env.prod",
            "GATE_PROD_WRITES_ALLOWED=yes\n",
            "GATE_PROD_WRITES_ALLOWED=yes in .env.prod",
        ),
    ],
)
def test_a_file_cannot_open_prod(
    project: pytest.Pytester, prod: HostileServer, where: str, content: str, fragment: str
) -> None:
    path = project.path / where
    path.parent.mkdir(exist_ok=True)
    path.write_text(content, encoding="utf-8")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "prod")
    assert_usage_error(result, project, fragment)
    assert "env 'prod' is protected" in result.errlines[0]
    assert prod.received == []


def test_prod_still_runs_read_only(project: pytest.Pytester, prod: HostileServer) -> None:
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "prod")
    result.assert_outcomes(skipped=1)
    status, reason = item_status(gate_file(project, "prod"))["health.api"]
    assert status == "not_verified"
    assert (reason or "").endswith(
        "writes not allowed on prod: POST /api/content refused before sending"
    )
    # Only the preflight's read proving the service-role key reached prod (credentials.py).
    assert [(r["method"], r["path"]) for r in prod.received] == [
        ("GET", "/storage/v1/bucket/content-media")
    ]


DB_SUITE = """
import pytest

ATTACKS = [
    "SET default_transaction_read_only = off; INSERT INTO content_items (title) VALUES ('x')",
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "RESET ALL",
    "COMMIT",
    "BEGIN READ WRITE",
    "SET TRANSACTION READ WRITE",
]


@pytest.mark.checklist("health.api")
def test_cannot_write(gate_db):
    for attack in ATTACKS:
        try:
            gate_db.execute(attack)
        except Exception as exc:
            print("refused:", type(exc).__name__)
        try:
            gate_db.execute("INSERT INTO content_items (title) VALUES ('written through gate_db')")
        except Exception as exc:
            print("insert refused:", type(exc).__name__)
        else:
            raise AssertionError(f"an INSERT went through after {attack!r}")
    with pytest.raises(AttributeError, match="read-only"):
        gate_db.autocommit = False
    assert gate_db.execute("select count(*) from content_items").fetchone()[0] >= 0
"""


def test_gate_db_cannot_be_switched_to_writes(
    project: pytest.Pytester, prod: HostileServer, clean_env: pytest.MonkeyPatch, sandbox: Any
) -> None:
    import psycopg

    database_url = sandbox.state.database_url
    clean_env.setenv("GATE_PROD_DATABASE_URL", database_url)
    count = "select count(*) from content_items where title = 'written through gate_db'"
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = conn.execute(count).fetchone()
    project.makepyfile(DB_SUITE)
    result = project.runpytest("--env", "prod", "-s")
    result.assert_outcomes(passed=1)
    assert result.stdout.str().count("insert refused: ReadOnlySqlTransaction") == 8
    assert "refused: SyntaxError" in result.stdout.str()  # two statements in one: refused
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(count).fetchone() == before


@pytest.mark.parametrize("key", ["API_URL", "SUPABASE_URL"])
def test_a_writing_env_pointed_at_prod_is_refused(
    project: pytest.Pytester, prod: HostileServer, clean_env: pytest.MonkeyPatch, key: str
) -> None:
    """The write guard goes by the env's name: staging pointed at production's hosts would
    write there under staging's permissions."""
    for name in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_STAGING_{name}", "http://127.0.0.1:9")
    clean_env.setenv(f"GATE_STAGING_{key}", prod.url)
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-service-role-key-0123")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "staging")
    assert_usage_error(
        result, project, "is a host of the protected env 'prod': point it at staging"
    )
    assert prod.received == []


@pytest.mark.parametrize(
    "spelled",
    [
        "https://api.promorang.com:443",
        "https://API.promorang.com.",
    ],
)
def test_prod_spelled_otherwise_is_still_prod(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, spelled: str
) -> None:
    """Case, a trailing dot or the default port make no other host."""
    for name in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_STAGING_{name}", "http://127.0.0.1:9")
    clean_env.setenv("GATE_STAGING_API_URL", spelled)
    clean_env.setenv("GATE_STAGING_SERVICE_ROLE_KEY", "staging-service-role-key-0123")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "staging")
    assert_usage_error(
        result, project, "is a host of the protected env 'prod': point it at staging"
    )


def test_a_sandbox_state_file_naming_prod_is_refused(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, sandbox: Any
) -> None:
    """The sandbox writes: a hand-made or stale state file must not point it at production."""
    state = json.loads(sandbox.state.to_json())
    state["supabase_url"] = "https://api.promorang.com"
    path = project.path / "state.json"
    path.write_text(json.dumps(state), encoding="utf-8")
    project.makepyfile(SUITE)
    result = project.runpytest(f"--sandbox-state={path}")
    assert_usage_error(result, project, "supabase_url https://api.promorang.com is a host of")


@pytest.mark.parametrize(
    ("where", "content", "fragment"),
    [
        ("variable", "GATE_STAGING_EMBEDDED=true", "GATE_STAGING_EMBEDDED=true: only a shipped"),
        ("environments/staging.toml", "embedded = true\n", "staging.toml sets embedded: only"),
    ],
)
def test_only_a_shipped_profile_makes_an_env_the_sandbox(
    project: pytest.Pytester, clean_env: pytest.MonkeyPatch, where: str, content: str, fragment: str
) -> None:
    """Else staging's verdict would be the sandbox's, under staging's name."""
    if where == "variable":
        name, value = content.split("=")
        clean_env.setenv(name, value)
    else:
        (project.path / where).write_text(content, encoding="utf-8")
    project.makepyfile(SUITE)
    result = project.runpytest("--env", "staging")
    assert_usage_error(result, project, fragment)
    assert "decides whether env 'staging' is the embedded sandbox" in result.errlines[0]
