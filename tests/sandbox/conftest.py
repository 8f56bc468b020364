"""Fixtures of the sandbox's own tests."""

from __future__ import annotations

# --- api / faults / lifecycle (promorang_sandbox.{api,faults,stack,launcher}) ----------------
from collections.abc import Iterator

import httpx
import pytest

from promorang_sandbox import SandboxHandle


@pytest.fixture
def sandbox(promorang_sandbox: SandboxHandle) -> Iterator[SandboxHandle]:
    """The shared sandbox, healthy on entry and reset to healthy (no faults) on exit."""
    promorang_sandbox.set_faults([])
    try:
        yield promorang_sandbox
    finally:
        promorang_sandbox.set_faults([])


@pytest.fixture
def api(promorang_sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    """An httpx client on the sandbox API, authenticated as the seeded creator."""
    state = promorang_sandbox.state
    headers = {"Authorization": f"Bearer {state.creator_token}"}
    with httpx.Client(base_url=state.api_url, headers=headers, timeout=15.0) as client:
        yield client


# --- end of api / faults / lifecycle ---------------------------------------------------------


# --- postgres / gateway (promorang_sandbox.{postgres,database,gateway}) ----------------------
# One database and one gateway per session, served by uvicorn on 127.0.0.1, port 0.
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import psycopg  # noqa: E402
import uvicorn  # noqa: E402

from promorang_sandbox import database  # noqa: E402
from promorang_sandbox.gateway import create_gateway_app  # noqa: E402
from promorang_sandbox.postgres import PostgresServer, acquire_server  # noqa: E402
from promorang_sandbox.recorder import RequestRecorder  # noqa: E402

GATEWAY_READY_S = 20.0


@dataclass(frozen=True)
class GatewayEnv:
    url: str
    dsn: str
    admin_dsn: str
    seed: database.SeedInfo
    recorder: RequestRecorder


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server the sandbox would use (stopped at the end if it is private)."""
    with acquire_server() as server:
        yield server


@pytest.fixture(scope="session")
def gateway_env(pg_server: PostgresServer) -> Iterator[GatewayEnv]:
    """A fresh migrated and seeded database with the gateway serving it."""
    dsn = database.create_database(pg_server.admin_dsn)
    try:
        database.apply_migrations(dsn)
        seed = database.seed(dsn)
        recorder = RequestRecorder()
        config = uvicorn.Config(
            create_gateway_app(dsn, recorder),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="gateway", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + GATEWAY_READY_S
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    pytest.fail("the gateway did not start within the deadline")
                time.sleep(0.02)  # poll interval, bounded by the deadline
            port = server.servers[0].sockets[0].getsockname()[1]
            yield GatewayEnv(f"http://127.0.0.1:{port}", dsn, pg_server.admin_dsn, seed, recorder)
        finally:
            server.should_exit = True
            thread.join(timeout=GATEWAY_READY_S)
    finally:
        database.drop_database(pg_server.admin_dsn, dsn)


@pytest.fixture
def gateway_db(gateway_env: GatewayEnv) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit owner connection to the gateway's database."""
    with psycopg.connect(gateway_env.dsn, autocommit=True) as conn:
        yield conn


# --- end of postgres / gateway ----------------------------------------------------------------
