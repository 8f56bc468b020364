"""Named faults: each reproduces one real way a Promorang deployment breaks (docs/faults.md).

API and frontend faults are flags the apps read per request; Postgres faults change the sandbox
database as an operator would, and are reverted when switched off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import psycopg

from .errors import SandboxError

Layer = Literal["api", "postgres", "frontend"]

BUCKET = "content-media"
MISSING_BUCKET = "content-media__missing"
POSITIONS_VERSION = "202510290101"
# The ledger faults touch migrations other than the positions one, so that each fails only the
# Growth Hub migration item (create_flow.share_positions checks 202510290101 alone).
NOT_APPLIED_VERSION = "202510270002"
DRIFTED_VERSION = "202510270001"
LEDGER = "supabase_migrations.schema_migrations"
PARKED = "supabase_migrations.sandbox_parked_rows"


class UnknownFault(SandboxError):
    """A fault name that is not in FAULTS."""

    def __init__(self, names: Iterable[str]) -> None:
        bad = ", ".join(sorted(names))
        super().__init__(f"unknown fault(s): {bad}; valid faults: {', '.join(FAULTS)}")


@dataclass(frozen=True)
class Fault:
    name: str
    layer: Layer
    description: str
    apply_sql: tuple[str, ...] = ()
    revert_sql: tuple[str, ...] = ()


def _rename_bucket(old: str, new: str) -> str:
    # storage.objects.bucket_id references buckets(id) ON UPDATE CASCADE.
    return f"update storage.buckets set id = '{new}', name = '{new}' where id = '{old}'"


def _move_positions(src: str, dst: str, version_from: str, version_to: str) -> tuple[str, ...]:
    rename = f"""
do $$
begin
  if to_regclass('public.{src}') is not null and to_regclass('public.{dst}') is null then
    alter table public.{src} rename to {dst};
  end if;
end
$$"""
    # The migration row is parked under a marked version rather than deleted.
    move_row = (
        f"update supabase_migrations.schema_migrations set version = '{version_to}' "
        f"where version = '{version_from}' and not exists (select 1 from "
        f"supabase_migrations.schema_migrations where version = '{version_to}')"
    )
    return (rename, move_row)


def _park_ledger_row(version: str, change: str | None) -> tuple[str, ...]:
    """Keep the ledger row aside, then delete it (``change`` None) or run ``change`` on it."""
    park = (
        f"create table if not exists {PARKED} (like {LEDGER})",
        f"insert into {PARKED} select * from {LEDGER} where version = '{version}'"
        f" and not exists (select 1 from {PARKED} where version = '{version}')",
    )
    return (*park, change or f"delete from {LEDGER} where version = '{version}'")


def _restore_ledger_row(version: str) -> tuple[str, ...]:
    return (
        f"delete from {LEDGER} where version = '{version}'"
        f" and exists (select 1 from {PARKED} where version = '{version}')",
        f"insert into {LEDGER} select * from {PARKED} where version = '{version}'",
        f"delete from {PARKED} where version = '{version}'",
    )


# The ledger keeps the file as it was pushed; someone edited the file afterwards.
_DRIFT = (
    f"update {LEDGER} set statements = (select array_agg(replace(s, 'default ''free''',"
    " 'default ''basic''') order by n) from unnest(statements) with ordinality as t(s, n))"
    f" where version = '{DRIFTED_VERSION}'"
)


_FAULT_LIST = (
    Fault("health_down", "api", 'GET /api/health -> 503 {"status":"down"}'),
    Fault("health_slow", "api", "GET /api/health answers only after 10 s"),
    Fault(
        "upload_fallback",
        "api",
        'upload-image stores nothing, 201 fallback:true, fallbackReason "fetch failed"',
    ),
    Fault(
        "upload_500",
        "api",
        'upload-image -> 500 {"success":false,"error":"Failed to upload image"}',
    ),
    Fault("upload_slow", "api", "upload-image succeeds only after 1.8 s"),
    Fault(
        "upload_private_url",
        "api",
        "objects go to the private bucket content-media-private; the returned public URL 404s",
    ),
    Fault(
        "upload_path_mismatch",
        "api",
        "the 201 answers the upload's name under another uuid than it was stored (a 404)",
    ),
    Fault(
        "bucket_missing",
        "postgres",
        "bucket content-media renamed away (storage.buckets.id, FK cascades)",
        (_rename_bucket(BUCKET, MISSING_BUCKET),),
        (_rename_bucket(MISSING_BUCKET, BUCKET),),
    ),
    Fault(
        "bucket_private",
        "postgres",
        "storage.buckets.public = false for content-media",
        (f"update storage.buckets set public = false where id = '{BUCKET}'",),
        (f"update storage.buckets set public = true where id = '{BUCKET}'",),
    ),
    Fault(
        "storage_insert_denied",
        "postgres",
        "revoke insert on storage.objects from service_role",
        ("revoke insert on storage.objects from service_role",),
        ("grant insert on storage.objects to service_role",),
    ),
    Fault(
        "storage_read_denied",
        "postgres",
        "revoke select on storage.objects from service_role",
        ("revoke select on storage.objects from service_role",),
        ("grant select on storage.objects to service_role",),
    ),
    Fault(
        "mint_skipped",
        "api",
        'create does not mint: minted_shares {"minted":false,"reason":"Invalid context ..."}',
    ),
    Fault("mint_wrong_shares", "api", "the minted row has shares_owned = total_shares - 1"),
    Fault("mint_duplicated", "api", "two position rows are minted for one content item"),
    Fault(
        "positions_table_missing",
        "postgres",
        "content_share_positions renamed away and its schema_migrations row removed (PGRST205)",
        _move_positions(
            "content_share_positions",
            "content_share_positions__missing",
            POSITIONS_VERSION,
            POSITIONS_VERSION + "__missing",
        ),
        _move_positions(
            "content_share_positions__missing",
            "content_share_positions",
            POSITIONS_VERSION + "__missing",
            POSITIONS_VERSION,
        ),
    ),
    Fault(
        "migration_not_applied",
        "postgres",
        f"migration {NOT_APPLIED_VERSION} missing from supabase_migrations.schema_migrations",
        _park_ledger_row(NOT_APPLIED_VERSION, None),
        _restore_ledger_row(NOT_APPLIED_VERSION),
    ),
    Fault(
        "migration_drifted",
        "postgres",
        f"the ledger's statements of {DRIFTED_VERSION} differ from the repository's file",
        _park_ledger_row(DRIFTED_VERSION, _DRIFT),
        _restore_ledger_row(DRIFTED_VERSION),
    ),
    Fault("update_not_persisted", "api", "PUT answers 200 echoing the fields but writes nothing"),
    Fault("delete_noop", "api", "DELETE answers 200 but the row stays"),
    Fault(
        "contract_drift",
        "api",
        "content objects carry availableShares instead of available_shares",
    ),
    Fault("bad_input_500", "api", "invalid payloads to upload-image and create -> 500"),
    Fault("cors_missing", "api", "no CORS headers at all"),
    Fault("frontend_down", "frontend", "every frontend path -> 503"),
    Fault(
        "frontend_wrong_api",
        "frontend",
        "the JS bundle embeds http://localhost:3001 instead of the API URL",
    ),
    # Contract semantics and security (CONTRACT §6; docs/traps.md).
    Fault("list_ignores_limit", "api", "GET /api/content?page=2&limit=1 answers up to 10 items"),
    Fault("roundtrip_price", "api", "a created item's share_price reads back as the platform's"),
    Fault("roundtrip_platform_url", "api", "a created item's platform_url is not kept"),
    Fault("delete_missing_200", "api", "DELETE of a missing or deleted id answers 200"),
    Fault("put_missing_500", "api", "PUT of a missing id answers 500 instead of 404"),
    Fault(
        "accepts_wrong_types",
        "api",
        "create accepts wrong JSON types and bounds; upload stores a fileName 0/false as"
        " content-<ms>.jpg",
    ),
    Fault("upload_accepts_html", "api", "upload-image stores any fileType (text/html too)"),
    Fault("bad_id_500", "api", "GET, PUT and DELETE of an id that is no UUID answer 500"),
    Fault("auth_unverified", "api", "writes accept a token whose signature is not verified"),
    Fault("auth_demo_bypass", "api", "demo-/00000000-0000- subjects pass unverified"),
    Fault("no_ownership_check", "api", "any user may PUT or DELETE any content"),
    Fault("mock_mode", "api", "the API runs without Supabase: fallbacks, numeric ids"),
    Fault(
        "uuid_default_dropped",
        "postgres",
        "content_items.id lost its default (uuid-ossp dropped with cascade): create fails",
        ("alter table public.content_items alter column id drop default",),
        ("alter table public.content_items alter column id set default gen_random_uuid()",),
    ),
    # The frontend, seen in a browser (CONTRACT §7).
    Fault(
        "frontend_reads_wrong_id",
        "frontend",
        "the Create form reads result.contentId and navigates to /content/undefined",
    ),
    Fault(
        "create_redirects_to_undefined",
        "frontend",
        "after a create that succeeded, the Create form navigates to /content/undefined",
    ),
    Fault(
        "frontend_price_override",
        "frontend",
        "the Create form sends share_price 0 whatever price was typed",
    ),
    Fault(
        "growth_hub_api_missing",
        "api",
        "GET /api/growth/* -> 404 (router not mounted); the Growth Hub page shows demo data",
    ),
    Fault(
        "reads_need_no_auth",
        "api",
        "GET /api/content and /api/content/{id} answer anyone, without a token (as build B)",
    ),
    Fault(
        "demo_login_open",
        "api",
        "POST /api/demo-login hands anyone a signed token the API accepts (as build H)",
    ),
    Fault(
        "cors_reflects_vercel_app",
        "api",
        "any https://*.vercel.app Origin is echoed with Access-Control-Allow-Credentials: true",
    ),
    Fault(
        "create_500_after_commit",
        "api",
        "create commits the row and its position, then answers 500 (as build H): a retry"
        " duplicates it",
    ),
    Fault(
        "frontend_lazy_chunk_wrong_api",
        "frontend",
        "the Create page's lazily loaded chunk embeds http://localhost:3001 (the entry is fine)",
    ),
    Fault(
        "frontend_api_unrouted",
        "frontend",
        "the frontend host has no /api rewrite: GET /api/* -> the app's HTML, writes -> 404",
    ),
    # The Stripe webhook (CONTRACT §8, §6.19; checklists/webhooks.yaml).
    Fault("webhook_accepts_unsigned", "api", "a webhook POST without Stripe-Signature -> 200"),
    Fault(
        "webhook_wrong_secret_name",
        "api",
        "the webhook reads WEBHOOK_SECRET_STRIPE (a retired secret), not STRIPE_WEBHOOK_SECRET",
    ),
    Fault(
        "webhook_parses_before_verifying",
        "api",
        "the webhook verifies the parsed, re-serialised body instead of the raw bytes",
    ),
    Fault("webhook_500_on_bad_signature", "api", "a bad webhook signature -> 500, not 400"),
    Fault("webhook_no_timestamp_tolerance", "api", "the webhook accepts signatures of any age"),
    # What is deployed (the gate's release.identity).
    Fault(
        "stale_deployment",
        "api",
        "the API answers an older build's commit on health than the repository's HEAD",
    ),
)

# Faults that appear only after a while (promorang-gate watch): each starts this many seconds
# after it is switched on and then grows, so a one-shot check before promotion sees nothing.
CREEP_AFTER_S = 1.0
#: Connections the leak holds at most, against the database's limit it sets.
LEAK_LIMIT, LEAK_HELD = 10, 9
LEAK_NAME = "sandbox-fault-connections-leak"
QUOTA_FILL_PREFIX = "__sandbox_quota_fill/"
QUOTA_FILL_BYTES, QUOTA_FILL_ROWS = 128 * 1024 * 1024, 9  # 1.125 GiB: past the 1 GiB quota
_DB_LIMIT = (
    "do $$ begin execute format('alter database %I connection limit {}', current_database());"
    " end $$"
)
_WATCH_FAULTS = (
    Fault(
        "error_rate_rises",
        "api",
        "after 1 s, every second API request answers 500 (the error rate climbs past 2 %)",
    ),
    Fault(
        "connections_leak",
        "postgres",
        f"the database's connection limit becomes {LEAK_LIMIT}; after 1 s the sandbox opens"
        f" and holds a connection every 0.25 s, up to {LEAK_HELD}",
        (_DB_LIMIT.format(LEAK_LIMIT),),
        (_DB_LIMIT.format(-1),),
    ),
    Fault(
        "bucket_near_quota",
        "postgres",
        f"after 1 s, a {QUOTA_FILL_BYTES >> 20} MiB object row joins content-media every"
        f" 0.25 s, up to {QUOTA_FILL_ROWS} (past the sandbox's 1 GiB quota)",
        (),
        (
            f"delete from storage.objects where bucket_id = '{BUCKET}'"
            f" and name like '{QUOTA_FILL_PREFIX}%'",
        ),
    ),
    Fault("latency_creeps", "api", "after 1 s, every API request waits 0.4 s more per second"),
)
#: Proven by `promorang-gate watch` (tests/watch), not by the gate run's fault matrix.
WATCH_FAULTS = tuple(f.name for f in _WATCH_FAULTS)
FAULTS: Mapping[str, Fault] = MappingProxyType({f.name: f for f in (*_FAULT_LIST, *_WATCH_FAULTS)})


def validate(names: Iterable[str]) -> tuple[str, ...]:
    """The names, deduplicated in order; UnknownFault if any is not in FAULTS."""
    unique = tuple(dict.fromkeys(names))
    bad = [n for n in unique if n not in FAULTS]
    if bad:
        raise UnknownFault(bad)
    return unique


class FaultSet:
    """The active faults; Postgres faults are applied to / reverted on the database."""

    def __init__(self, db_admin_dsn: str | None = None) -> None:
        self._dsn = db_admin_dsn
        self._lock = threading.Lock()
        self._active: tuple[str, ...] = ()
        self._since: dict[str, float] = {}
        self._growers: dict[str, _Grower] = {}

    def since(self, name: str) -> float | None:
        """Seconds since ``name`` was switched on; None when it is off."""
        started = self._since.get(name)
        return None if started is None else time.monotonic() - started

    def __contains__(self, name: object) -> bool:
        return name in self._active

    @property
    def active(self) -> tuple[str, ...]:
        return self._active

    def replace(self, names: Iterable[str]) -> tuple[str, ...]:
        """Make exactly ``names`` active (validated first); returns the new set."""
        wanted = validate(names)
        with self._lock:
            off = [FAULTS[n] for n in self._active if n not in wanted]
            on = [FAULTS[n] for n in wanted if n not in self._active]
            for fault in off:
                grower = self._growers.pop(fault.name, None)
                if grower is not None:
                    grower.stop()
            sql = [s for f in off for s in f.revert_sql] + [s for f in on for s in f.apply_sql]
            if sql:
                self._execute(sql)
            self._active = wanted
            now = time.monotonic()
            self._since = {n: self._since.get(n, now) for n in wanted}
            for fault in on:
                if fault.name in _GROWING and self._dsn is not None:
                    self._growers[fault.name] = _Grower(self._dsn, fault.name)
            return wanted

    def _execute(self, statements: list[str]) -> None:
        if self._dsn is None:
            raise SandboxError("Postgres faults need a database; none is configured")
        with psycopg.connect(self._dsn, autocommit=False) as conn:
            for stmt in statements:
                conn.execute(stmt.encode())
            # PostgREST-alikes reload their schema cache on this notification.
            conn.execute("notify pgrst, 'reload schema'")


_GROWING = ("connections_leak", "bucket_near_quota")


class _Grower(threading.Thread):
    """After ``CREEP_AFTER_S``, one more held connection or quota-filling row every 0.25 s."""

    STEP_S = 0.25

    def __init__(self, dsn: str, fault: str) -> None:
        super().__init__(name=f"fault-{fault}", daemon=True)
        self._dsn, self._fault = dsn, fault
        self._halt = threading.Event()
        self._held: list[psycopg.Connection[tuple[object, ...]]] = []
        self.start()

    def run(self) -> None:
        if self._halt.wait(CREEP_AFTER_S):
            return
        steps = LEAK_HELD if self._fault == "connections_leak" else QUOTA_FILL_ROWS
        for step in range(steps):
            try:
                self._grow(step)
            except psycopg.Error:
                return
            if self._halt.wait(self.STEP_S):
                return

    def _grow(self, step: int) -> None:
        if self._fault == "connections_leak":
            conn = psycopg.connect(self._dsn, autocommit=True, application_name=LEAK_NAME)
            self._held.append(conn)
            return
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            conn.execute(
                "insert into storage.objects (bucket_id, name, metadata) values (%s, %s, %s)"
                " on conflict do nothing",
                [BUCKET, f"{QUOTA_FILL_PREFIX}{step}", f'{{"size": {QUOTA_FILL_BYTES}}}'],
            )

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._held.clear()
