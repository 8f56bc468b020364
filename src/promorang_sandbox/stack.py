"""The whole sandbox in one process: Postgres database, gateway, API and frontend on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from . import database, jwtkeys
from .api import create_api_app
from .api_state import ApiConfig, PromorangApi
from .app_repo import head_commit, served_routes, write_reference_repo
from .faults import FaultSet, validate
from .frontend import FrontendMode, create_frontend_app
from .postgres import PostgresServer, acquire_server
from .recorder import RecordingMiddleware, RequestRecorder
from .state import SandboxState
from .webhooks import stripe_variables

HOST = "127.0.0.1"
# How long the sandbox's servers keep an idle connection: as long as common proxies do (nginx:
# 75 s), well past any client's own reuse limit.
SERVER_KEEP_ALIVE_S = 75
Log = Callable[[str], None]
logger = logging.getLogger("promorang_sandbox")


@dataclass(frozen=True)
class StackOptions:
    faults: Sequence[str] = ()
    api_port: int = 0
    gateway_port: int = 0
    frontend_port: int = 0
    bucket: str = "content-media"
    upload_prefix: str = "uploads"
    log: Log | None = None
    # "absolute": the bundle calls the API's URL; "relative": /api/... through the frontend host.
    frontend_mode: FrontendMode = "absolute"
    # Only the database, the gateway (REST, storage, auth): an engineer's own backend runs
    # against it (``promorang-sandbox up --supabase-only --print-env backend``).
    supabase_only: bool = False
    # A checkout's own migrations (its ``supabase/migrations``, or the checkout's root), applied
    # on top of the sandbox's schema once the database is seeded (``up --migrations-from``).
    migrations_from: Path | None = None


def bind(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0 = ephemeral)."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says it is TCP; without it each response waits for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Served:
    server: uvicorn.Server
    sock: socket.socket
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://{HOST}:{port}"


@dataclass
class Stack:
    """Start with ``await stack.start()``; always ``await stack.stop()`` (also after a failure)."""

    options: StackOptions = field(default_factory=StackOptions)
    state: SandboxState | None = None
    faults: FaultSet | None = None
    recorder: RequestRecorder = field(default_factory=RequestRecorder)
    _pg: PostgresServer | None = None
    _dsn: str | None = None
    _served: list[_Served] = field(default_factory=list)
    _socks: list[socket.socket] = field(default_factory=list)
    _api: PromorangApi | None = None
    _repo: Path | None = None
    checkout_migrations: database.CheckoutMigrations | None = None

    def _say(self, msg: str) -> None:
        if self.options.log is not None:
            self.options.log(msg)

    async def start(self) -> SandboxState:
        """Bring everything up; on failure everything started so far is torn down."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> SandboxState:
        opts = self.options
        wanted = validate(opts.faults)  # fail before touching anything
        if opts.migrations_from is not None:
            database.checkout_migration_files(opts.migrations_from)
        ports = (
            (opts.gateway_port,)
            if opts.supabase_only
            else (opts.gateway_port, opts.api_port, opts.frontend_port)
        )
        for port in ports:
            self._socks.append(bind(port))
        socks = list(self._socks)
        urls = [f"http://{HOST}:{s.getsockname()[1]}" for s in socks]
        if opts.supabase_only:
            urls += ["", ""]  # no API, no frontend: the engineer's own serve those
        self._pg = await asyncio.to_thread(acquire_server, self._say)
        admin_dsn = self._pg.admin_dsn
        self._dsn = dsn = await asyncio.to_thread(database.create_database, admin_dsn)
        self._say(f"database: {dsn.rsplit('/', 1)[-1]}")
        await asyncio.to_thread(database.apply_migrations, dsn)
        seed = await asyncio.to_thread(database.seed, dsn)
        if opts.migrations_from is not None:
            self.checkout_migrations = done = await asyncio.to_thread(
                database.apply_checkout_migrations, dsn, opts.migrations_from, self._say
            )
            self._say(done.summary)
        gateway_url, api_url, frontend_url = urls
        admin_token = secrets.token_urlsafe(24)
        webhook_secret = "whsec_" + secrets.token_hex(16)
        self.faults = FaultSet(dsn)
        from .gateway import create_gateway_app

        gateway = create_gateway_app(dsn, self.recorder)
        api_app, self._api = create_api_app(
            ApiConfig(
                supabase_url=gateway_url,
                gateway_app=gateway,
                service_role_key=jwtkeys.SERVICE_ROLE_KEY,
                frontend_origin=frontend_url,
                admin_token=admin_token,
                faults=self.faults,
                recorder=self.recorder,
                bucket=opts.bucket,
                upload_prefix=opts.upload_prefix,
                stripe_env=stripe_variables(webhook_secret),
            )
        )
        self._repo = Path(tempfile.mkdtemp(prefix="promorang-app-repo-"))
        await asyncio.to_thread(write_reference_repo, self._repo, api_url, served_routes(api_app))
        commit = await asyncio.to_thread(head_commit, self._repo)
        self._api.config.build_commit = commit  # the build states its commit (health, bundle)
        frontend = create_frontend_app(api_url, self.faults, opts.frontend_mode, commit)
        apps: list[Any] = [gateway]
        if not opts.supabase_only:
            apps += [
                RecordingMiddleware(api_app, self.recorder, "api"),
                RecordingMiddleware(frontend, self.recorder, "frontend"),
            ]
        for app, sock in zip(apps, socks, strict=True):
            await self._serve(app, sock)
        await asyncio.to_thread(self.faults.replace, wanted)
        self.state = SandboxState(
            api_url=api_url,
            frontend_url=frontend_url,
            supabase_url=gateway_url,
            anon_key=jwtkeys.ANON_KEY,
            service_role_key=jwtkeys.SERVICE_ROLE_KEY,
            creator_id=seed.creator_id,
            creator_token=jwtkeys.user_token(seed.creator_id, seed.creator_email),
            database_url=dsn,
            admin_url=api_url,
            admin_token=admin_token,
            bucket=opts.bucket,
            upload_prefix=opts.upload_prefix,
            faults=list(wanted),
            pid=os.getpid(),
            app_repo=str(self._repo),
            other_user_id=seed.other_id,
            other_user_token=jwtkeys.user_token(seed.other_id, seed.other_email),
            frontend_mode=opts.frontend_mode,
            stripe_webhook_secret=webhook_secret,
        )
        return self.state

    async def _serve(self, app: Any, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=2,
            # Idle connections stay open as long as behind the hosted platform's proxies: with
            # uvicorn's 5 s, a client reusing one at its own 5 s limit raced the close (the
            # API's upload then fell back: "fetch failed"; a gate's request failed to read).
            timeout_keep_alive=SERVER_KEEP_ALIVE_S,
        )
        config.load()
        served = _Served(uvicorn.Server(config), sock)
        served.server.lifespan = config.lifespan_class(config)
        self._served.append(served)
        await served.server.startup(sockets=[sock])
        served.task = asyncio.create_task(served.server.main_loop())

    @staticmethod
    async def _shut(served: _Served) -> None:
        if served.task is not None:
            # The loop only ticks (every 0.1 s) until it sees should_exit: no tick to wait for.
            served.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await served.task
        if served.server.started:
            await served.server.shutdown(sockets=[served.sock])

    async def stop(self) -> None:
        """Stop the servers, drop the database, stop a private cluster. Idempotent."""
        served, self._served = self._served, []
        for s in served:
            s.server.should_exit = True
        # Together: each server notices should_exit on its own tick (Ctrl-C must be quick).
        await asyncio.gather(*(self._shut(s) for s in served))
        socks, self._socks = self._socks, []
        for sock in socks:
            sock.close()
        api, self._api = self._api, None
        if api is not None:
            await api.aclose()
        repo, self._repo = self._repo, None
        if repo is not None:
            shutil.rmtree(repo, ignore_errors=True)
        pg, dsn = self._pg, self._dsn
        self._pg = self._dsn = None
        try:
            if pg is not None and dsn is not None:
                await asyncio.to_thread(database.drop_database, pg.admin_dsn, dsn)
        finally:
            if pg is not None:
                await asyncio.to_thread(pg.stop)


async def run_stack(options: StackOptions, until: asyncio.Event) -> SandboxState:
    """Start the stack, wait for ``until``, stop it; returns the state it ran with."""
    stack = Stack(options)
    started = time.monotonic()
    state = await stack.start()
    stack._say(f"ready in {time.monotonic() - started:.2f} s")
    try:
        await until.wait()
    finally:
        await stack.stop()
    return state
