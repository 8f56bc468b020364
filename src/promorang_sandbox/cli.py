"""``promorang-sandbox``: run the reference stack in the foreground, or list the faults."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from .database import MigrationsPathError, checkout_migration_files
from .errors import SandboxError
from .faults import FAULTS
from .frontend import FRONTEND_MODES
from .stack import Stack, StackOptions
from .state import SandboxState

PROG = "promorang-sandbox"
PARENT_POLL_S = 0.5
EXIT_ERROR = 2
# --migrations-from names no folder of *.sql files: nothing was started.
EXIT_MIGRATIONS_PATH = 3


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="The Promorang reference sandbox.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack and run until SIGINT/SIGTERM")
    up.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="activate a fault (repeatable)"
    )
    up.add_argument("--api-port", type=_port, default=0, metavar="N", help="API port [ephemeral]")
    up.add_argument("--gateway-port", type=_port, default=0, metavar="N", help="gateway port")
    up.add_argument("--frontend-port", type=_port, default=0, metavar="N", help="frontend port")
    up.add_argument(
        "--frontend-mode",
        choices=FRONTEND_MODES,
        default="absolute",
        help="absolute: the bundle calls the API's URL; relative: it calls /api/... on the"
        " frontend's host, which forwards them to the API [absolute]",
    )
    up.add_argument("--state-file", type=Path, metavar="PATH", help="write the state JSON here")
    up.add_argument(
        "--ready-timeout", type=float, default=60.0, metavar="S", help="start-up budget [60]"
    )
    up.add_argument(
        "--parent-pid",
        type=int,
        metavar="PID",
        help="stop when this process is gone (a killed test run must not leave a sandbox behind)",
    )
    up.add_argument(
        "--supabase-only",
        action="store_true",
        help="serve only the database and the gateway (REST, storage, auth): run your own"
        " backend and frontend against it",
    )
    up.add_argument(
        "--print-env",
        metavar="WHAT",
        help="once ready, print on stdout (the table goes to stderr) either `backend`: the"
        " variables the platform's backend reads (SUPABASE_URL, the keys, JWT_SECRET, the"
        " Stripe test secrets) as KEY=VALUE lines, or an env name (e.g. staging):"
        " `export GATE_<ENV>_*=…` lines that point the gate's env at this sandbox",
    )
    up.add_argument(
        "--migrations-from",
        type=Path,
        metavar="PATH",
        help="once the database is ready, apply every *.sql file of PATH (a checkout's"
        " supabase/migrations, or the checkout itself) on top of the sandbox's schema, in"
        " file-name order, each in its own transaction, recorded in the migration ledger; a"
        " failing file is rolled back, reported and skipped. With or without --supabase-only"
        f" (exit {EXIT_MIGRATIONS_PATH} if PATH holds no *.sql file)",
    )
    sub.add_parser("faults", help="list the faults")
    env = sub.add_parser(
        "env",
        help="print `export GATE_<ENV>_*=…` lines for a running sandbox (its state file)",
        description="Print the variables that point the gate's environment ENV at a running"
        " sandbox, DB URL and application repository included, as shell `export` lines.",
        epilog='example: eval "$(promorang-sandbox env staging --state-file'
        ' reports/sandbox-state.json --wait 60)"',
    )
    env.add_argument("env_name", metavar="ENV", help="the gate's environment, e.g. staging")
    env.add_argument(
        "--state-file", type=Path, required=True, metavar="PATH", help="the sandbox's state file"
    )
    env.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for the file (a sandbox still starting) [0]",
    )
    return parser


#: GATE_<ENV>_<name> -> the state's field that provides it.
ENV_SETTINGS = {
    "API_URL": "api_url",
    "FRONTEND_URL": "frontend_url",
    "SUPABASE_URL": "supabase_url",
    "SERVICE_ROLE_KEY": "service_role_key",
    "CREATOR_TOKEN": "creator_token",
    "OTHER_USER_TOKEN": "other_user_token",
    "DATABASE_URL": "database_url",
    "APP_REPO": "app_repo",
}


def export_lines(state: SandboxState, env: str) -> list[str]:
    """``export GATE_<ENV>_X=value`` for every setting the sandbox can give (shell-quoted)."""
    prefix = f"GATE_{env.upper().replace('-', '_')}_"
    lines = []
    for name, key in ENV_SETTINGS.items():
        value = str(getattr(state, key) or "")
        if value:
            lines.append(f"export {prefix}{name}={shlex.quote(value)}")
    return lines


def _wait_for_state(path: Path, wait_s: float) -> SandboxState:
    """The state file, polled until it is there (progress on stderr every 2 s)."""
    deadline = time.monotonic() + wait_s
    next_note = time.monotonic() + 2.0
    while not path.is_file():
        now = time.monotonic()
        if now >= deadline:
            raise SandboxError(
                f"no state file at {path} after {wait_s:g} s: start the sandbox with"
                f" `promorang-sandbox up --state-file {path}`"
            )
        if now >= next_note:
            _log(f"waiting for the sandbox's state file {path} ({deadline - now:.0f} s left)")
            next_note = now + 2.0
        time.sleep(0.1)
    return SandboxState.from_file(path)


def _env(args: argparse.Namespace) -> int:
    state = _wait_for_state(args.state_file, args.wait)
    print("\n".join(export_lines(state, args.env_name)))
    return 0


def _log(message: str) -> None:
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


def _print_ready(state: SandboxState, ready_s: float) -> None:
    rows = [
        ("api", state.api_url),
        ("frontend", state.frontend_url),
        ("supabase", state.supabase_url),
        ("anon key", state.anon_key),
        ("service-role key", state.service_role_key),
        ("creator id", state.creator_id),
        ("creator token", state.creator_token),
        ("other user id", state.other_user_id),
        ("other user token", state.other_user_token),
        ("admin token", state.admin_token),
        ("stripe webhook secret", state.stripe_webhook_secret),
        ("frontend mode", state.frontend_mode),
        ("faults", ", ".join(state.faults) or "none"),
        ("app repo", state.app_repo),
        ("ready in", f"{ready_s:.2f} s"),
    ]
    width = max(len(k) for k, _ in rows) + 1
    for key, value in rows:
        print(f"{key + ':':<{width}} {value}")
    sys.stdout.flush()


def backend_env(state: SandboxState) -> dict[str, str]:
    """What the platform's backend reads to reach this Supabase (both names of the service key:
    its docs say SUPABASE_SERVICE_KEY, its code reads SUPABASE_SERVICE_ROLE_KEY), and what
    ``pytest --env local`` needs to gate the backend running against it. Its Stripe variables
    are sandbox values: a test key that reaches no account, and the webhook secret the gate
    signs its events with (the sandbox's own, or one derived from this sandbox's keys, so that
    every print of one sandbox agrees)."""
    from .database import CREATOR_EMAIL, CREATOR_PASSWORD, OTHER_EMAIL, OTHER_PASSWORD
    from .jwtkeys import JWT_SECRET

    seed = hashlib.sha256(state.service_role_key.encode()).hexdigest()
    webhook_secret = state.stripe_webhook_secret or f"whsec_sandbox_{seed[:32]}"
    return {
        "SUPABASE_URL": state.supabase_url,
        "SUPABASE_SERVICE_KEY": state.service_role_key,
        "SUPABASE_SERVICE_ROLE_KEY": state.service_role_key,
        "SUPABASE_ANON_KEY": state.anon_key,
        "JWT_SECRET": JWT_SECRET,
        "STRIPE_SECRET_KEY": f"sk_test_sandbox_{seed[32:56]}",
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "GATE_LOCAL_SUPABASE_URL": state.supabase_url,
        "GATE_LOCAL_SERVICE_ROLE_KEY": state.service_role_key,
        "GATE_LOCAL_DATABASE_URL": state.database_url,
        "GATE_LOCAL_CREATOR_EMAIL": CREATOR_EMAIL,
        "GATE_LOCAL_CREATOR_PASSWORD": CREATOR_PASSWORD,
        "GATE_LOCAL_OTHER_USER_EMAIL": OTHER_EMAIL,
        "GATE_LOCAL_OTHER_USER_PASSWORD": OTHER_PASSWORD,
        "GATE_LOCAL_STRIPE_WEBHOOK_SECRET": webhook_secret,
    }


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    """Sets `stop` once the parent is gone, checked twice a second."""
    while not stop.is_set() and _process_alive(pid):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PARENT_POLL_S)
    stop.set()


async def _up(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Keep a reference: the loop only holds tasks weakly.
    watcher = asyncio.create_task(_watch_parent(args.parent_pid, stop)) if args.parent_pid else None
    options = StackOptions(
        faults=tuple(args.fault),
        api_port=args.api_port,
        gateway_port=args.gateway_port,
        frontend_port=args.frontend_port,
        log=_log,
        frontend_mode=args.frontend_mode,
        supabase_only=args.supabase_only,
        migrations_from=args.migrations_from,
    )
    stack = Stack(options)
    started = time.monotonic()
    try:
        try:
            state = await asyncio.wait_for(stack.start(), timeout=args.ready_timeout)
        except TimeoutError:
            raise SandboxError(f"not ready within {args.ready_timeout} s") from None
        if args.print_env:
            if args.print_env == "backend":
                print("\n".join(f"{k}={v}" for k, v in backend_env(state).items()), flush=True)
            else:
                with contextlib.redirect_stdout(sys.stderr):
                    _print_ready(state, time.monotonic() - started)
                print("\n".join(export_lines(state, args.print_env)), flush=True)
        else:
            _print_ready(state, time.monotonic() - started)
        state_file: Path | None = args.state_file
        try:
            if state_file is not None:
                state.write(state_file)
            await stop.wait()
        finally:
            if state_file is not None:
                state_file.unlink(missing_ok=True)
    finally:
        if watcher is not None:
            watcher.cancel()
        await stack.stop()
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows): the sandbox is one process
    serving the API, the gateway and the frontend, and every gate run's requests wait on it;
    with uvloop (and uvicorn's httptools parser) each costs it less CPU. Else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "faults":
        width = max(len(n) for n in FAULTS)
        for name, fault in FAULTS.items():
            print(f"{name:<{width}}  [{fault.layer}] {fault.description}")
        return 0
    try:
        if args.command == "env":
            return _env(args)
        if args.migrations_from is not None:
            checkout_migration_files(args.migrations_from)  # before anything starts
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_up(args))
    except MigrationsPathError as exc:
        print(f"{PROG}: error: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_MIGRATIONS_PATH
    except (SandboxError, OSError, psycopg.Error, ValueError) as exc:
        print(f"{PROG}: error: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
