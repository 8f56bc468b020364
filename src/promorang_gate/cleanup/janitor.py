"""Removes what gate runs left behind, recognised only by the one tag grammar (``tags.py``).

- rows: ``content_items`` whose title *ends* with ``[gate <run id>]`` (a title with the tag in
  the middle is someone's text), or whose description does (where a case made the title
  invalid); their share positions go with them by FK cascade, never on their own;
- objects: in every bucket the service role can list, names with a path segment *starting*
  with ``gate-<run id>`` (after the platform's ``<uuid>-`` prefix): ``delegate-gr…png`` is not;
- each found thing must also pass the ownership check (``ownership.py``: not created before its
  run started), else it is reported and left alone;
- and it must be provably the gate's: its run recorded (the run's own sweep, or the record of
  runs in ``run_history.py``), a row created by one of the gate's test users (the ``sub`` of
  its tokens), an object in the env's configured bucket under its upload prefix or the probes'
  folder. A tagged thing failing any of these "looks like ours" and is left alone, reported.

``run_janitor`` removes the leftovers of runs older than an age (the ``janitor`` command);
``sweep_run`` removes everything of exactly one run (the end-of-run sweep). Protected
environments and environments without writes are refused before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import httpx

from promorang_gate.cleanup import tags
from promorang_gate.cleanup.ownership import object_problem, row_problem
from promorang_gate.secrets.redaction import Redactor
from promorang_gate.target.http import GateHttp

if TYPE_CHECKING:
    import psycopg
    import supabase

    from promorang_gate.target.environments import Target

__all__ = [
    "EXIT_CODES",
    "SweepResult",
    "refusal",
    "run_janitor",
    "sweep_run",
]

#: Exit codes of ``promorang-gate janitor`` (each failure of the whole run is one line).
EXIT_CODES = {
    "clean": 0,  # everything found was removed (or nothing was found)
    "left": 1,  # something could not be removed, or was left alone as not the run's
    "refused": 2,  # protected or without writes; also usage errors of the command
    "unreachable": 3,  # the Supabase gateway did not answer
    "denied": 4,  # the service-role key was rejected
    "no_bucket": 5,  # the configured bucket does not exist: probably the wrong project
    "stopped": 6,  # an unexpected answer stopped the sweep midway
}
_PAGE = 1000
_MAX_PAGES = 100  # per listing: 100,000 rows or objects; the next sweep takes the rest
_BATCH = 100
_MAX_DEPTH = 8
DbFactory = Callable[[], "psycopg.Connection[tuple[Any, ...]] | None"]


@dataclass
class SweepResult:
    """What a sweep found and did; every text is one redacted line."""

    env: str
    found: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    #: Tagged things of runs too recent for ``--older-than`` (never counted as clean).
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed and not self.left_alone


class _Stop(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def refusal(target: Target) -> str:
    """Why the janitor does nothing on ``target``, and how to clean it by hand."""
    kind = "a protected environment" if target.protected else "writes are not allowed"
    return (
        f"janitor: refused: writes are not allowed on {target.name} ({kind}); the gate deletes"
        " nothing there. To clean it by hand, review in the Supabase dashboard (or with SQL)"
        " the content_items whose title (or description) ends with '[gate gr…]' and the storage"
        " objects with a path segment starting with 'gate-gr…', and delete them there (share"
        " positions go with their content item)"
    )


def _status(exc: BaseException) -> int | None:
    for name in ("status", "status_code", "code"):
        value = getattr(exc, name, None)
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            continue
    return None


def _classify(exc: BaseException, target: Target, redactor: Redactor) -> _Stop:
    host = target.supabase_url
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError):
        return _Stop("unreachable", f"{host} is unreachable ({type(exc).__name__})")
    text = redactor.one_line(exc, 200)
    if _status(exc) in (401, 403) or any(
        word in text.lower() for word in ("invalid api key", "jwt", "signature", "unauthorized")
    ):
        variable = f"GATE_{target.name.upper()}_SERVICE_ROLE_KEY"
        return _Stop("denied", f"{host} rejected the service-role key ({text}); check {variable}")
    return _Stop("stopped", f"stopped: {type(exc).__name__}: {text}")


class _Session:
    """The client, an optional database for fallbacks, and the redactor of one sweep."""

    def __init__(self, client: Any, db_factory: DbFactory | None, redactor: Redactor) -> None:
        self.client = client
        self.redactor = redactor
        self._db_factory = db_factory
        self._db: Any = None
        self._tried = False

    def db(self) -> Any:
        if not self._tried and self._db_factory is not None:
            self._tried = True
            self._db = self._db_factory()
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _buckets(session: _Session, target: Target) -> list[str]:
    names = []
    for bucket in session.client.storage.list_buckets():
        name = bucket.get("id") if isinstance(bucket, dict) else getattr(bucket, "id", None)
        names.append(str(name or getattr(bucket, "name", "")))
    if target.bucket not in names:
        raise _Stop(
            "no_bucket",
            f"bucket {target.bucket!r} does not exist on {target.supabase_url} (buckets:"
            f" {', '.join(sorted(names)) or 'none'}): the environment may point at the wrong"
            f" project; fix GATE_{target.name.upper()}_BUCKET or its profile. Nothing was removed",
        )
    return sorted(names)


#: Folders a gate run writes objects to besides the env's upload prefix (smoke/test_storage.py).
PROBES_FOLDER = "gate-probes"
LOOKS_LIKE_OURS = "looks like ours, left alone"


def token_user(token: str | None) -> str | None:
    """The user id (``sub``) a JWT names, read without verifying (only to recognise it)."""
    import base64
    import binascii
    import json

    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    sub = data.get("sub") if isinstance(data, dict) else None
    return str(sub) if sub else None


@dataclass(frozen=True)
class Proof:
    """What makes a tagged thing the gate's: its run recorded, its creator a test user."""

    recorded: frozenset[str]
    users: frozenset[str]
    #: Runs too recent to touch (the janitor's ``--older-than``): counted, never removed.
    too_new: Callable[[str], bool] = lambda run_id: False

    @classmethod
    def of(cls, target: Target, recorded: set[str] | frozenset[str], **kw: Any) -> Proof:
        tokens = (target.creator_token, getattr(target, "other_user_token", None))
        users = frozenset(u for u in map(token_user, tokens) if u)
        return cls(frozenset(recorded), users, **kw)

    def row_problem(self, run_id: str, creator: object) -> str | None:
        if run_id not in self.recorded:
            return f"{LOOKS_LIKE_OURS}: run {run_id} is not in the gate's record of runs"
        if creator is None or str(creator) not in self.users:
            return f"{LOOKS_LIKE_OURS}: its creator {creator} is not one of the gate's test users"
        return None

    def object_problem(self, run_id: str, bucket: str, name: str, target: Target) -> str | None:
        if run_id not in self.recorded:
            return f"{LOOKS_LIKE_OURS}: run {run_id} is not in the gate's record of runs"
        if bucket != target.bucket:
            return f"{LOOKS_LIKE_OURS}: bucket {bucket} is not the env's bucket {target.bucket}"
        folders = (target.upload_prefix.strip("/"), PROBES_FOLDER)
        if not any(name.startswith(f"{folder}/") for folder in folders if folder):
            return f"{LOOKS_LIKE_OURS}: outside the env's folders ({', '.join(folders)})"
        return None


def _content_rows(session: _Session, like: str) -> list[dict[str, Any]]:
    """Rows whose title, or else description, matches ``like`` (each row once)."""
    rows: dict[str, dict[str, Any]] = {}
    for column in ("title", "description"):
        for number in range(_MAX_PAGES):  # a gateway answering full pages for ever ends here
            offset = number * _PAGE
            query = session.client.table("content_items").select(
                "id,title,description,created_at,creator_id"
            )
            query = query.like(column, like).order("id").range(offset, offset + _PAGE - 1)
            page = query.execute()
            for row in page.data:
                rows.setdefault(str(row.get("id")), row)
            if len(page.data) < _PAGE:
                break
    return list(rows.values())


def _sweep_rows(
    session: _Session,
    select: Callable[[str], bool],
    like: str,
    result: SweepResult,
    proof: Proof,
) -> None:
    for row in _content_rows(session, like):
        title = str(row.get("title") or "")
        description = row.get("description")
        run_id = tags.row_run_id(title, description)
        if run_id is None or not select(run_id):
            continue  # a look-alike, or another run
        what = f"content_items {row.get('id')} {title!r} ({run_id})"
        if proof.too_new(run_id):
            result.skipped.append(session.redactor.one_line(what, 400))
            continue
        result.found.append(what)
        problem = proof.row_problem(run_id, row.get("creator_id")) or row_problem(
            title, row.get("created_at"), run_id, description=description
        )
        if problem:
            result.left_alone.append(session.redactor.one_line(f"{what}: {problem}", 400))
            continue
        try:
            # Only while it still carries the checked tag; positions go by FK cascade.
            query = session.client.table("content_items").delete().eq("id", str(row["id"]))
            if tags.title_run_id(title) == run_id:
                query = query.eq("title", title)
            else:
                query = query.eq("description", str(description))
            deleted = query.execute().data
        except Exception as exc:
            result.failed.append(session.redactor.one_line(f"{what}: {exc}", 400))
            continue
        if deleted:
            result.removed.append(what)
        else:
            result.failed.append(f"{what}: the delete removed nothing")


def _walk(bucket: Any, prefix: str, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every file under ``prefix`` (recursively; folders have no id), with its full name."""
    for number in range(_MAX_PAGES):  # a gateway answering full pages for ever ends here
        options = {"limit": _PAGE, "offset": number * _PAGE}
        entries: list[dict[str, Any]] = bucket.list(prefix, options)
        for entry in entries:
            name = f"{prefix}/{entry['name']}" if prefix else str(entry["name"])
            if entry.get("id") is None:
                if depth < _MAX_DEPTH:
                    yield from _walk(bucket, name, depth + 1)
            else:
                yield {**entry, "name": name}
        if len(entries) < _PAGE:
            return


def _sweep_bucket(
    session: _Session,
    bucket_id: str,
    select: Callable[[str], bool],
    result: SweepResult,
    proof: Proof,
    target: Target,
) -> None:
    bucket = session.client.storage.from_(bucket_id)
    doomed: list[tuple[str, str]] = []
    for entry in _walk(bucket, ""):
        name = str(entry["name"])
        run_id = tags.object_run_id(name)
        if run_id is None or not select(run_id):
            continue
        what = f"object {bucket_id}/{name} ({run_id})"
        if proof.too_new(run_id):
            result.skipped.append(session.redactor.one_line(what, 400))
            continue
        result.found.append(what)
        problem = proof.object_problem(run_id, bucket_id, name, target) or object_problem(
            name, run_id, entry.get("created_at") or None
        )
        if problem:
            result.left_alone.append(session.redactor.one_line(f"{what}: {problem}", 400))
        else:
            doomed.append((name, what))
    for start in range(0, len(doomed), _BATCH):
        _remove_objects(session, bucket_id, doomed[start : start + _BATCH], result)


def _remove_objects(
    session: _Session, bucket_id: str, batch: list[tuple[str, str]], result: SweepResult
) -> None:
    try:
        answer = session.client.storage.from_(bucket_id).remove([name for name, _ in batch])
        gone = {str(item.get("name")) for item in answer or []}
    except Exception:
        gone = set()
    for name, what in batch:
        if name in gone:
            result.removed.append(what)
            continue
        try:  # one by one, falling back to SQL when storage refuses
            db = session.db()
            if db is None:
                session.client.storage.from_(bucket_id).remove([name])
            else:
                db.execute(
                    "delete from storage.objects where bucket_id = %s and name = %s",
                    (bucket_id, name),
                )
        except Exception as exc:
            result.failed.append(session.redactor.one_line(f"{what}: {exc}", 400))
            continue
        result.removed.append(what)


def _sweep(
    target: Target,
    select: Callable[[str], bool],
    like: str,
    client: Any,
    db_factory: DbFactory | None,
    redactor: Redactor | None,
    proof: Proof,
) -> SweepResult:
    result = SweepResult(target.name)
    if not target.writes_allowed or target.protected:
        result.error, result.exit_code = refusal(target), EXIT_CODES["refused"]
        return result
    redactor = redactor or Redactor(target.secret_values())
    http = None
    if client is None:
        from promorang_gate.target.supabase_access import connect_db_for_writes, make_supabase

        http = GateHttp(
            target.name,
            None,
            target.request_timeout_s,
            target.writes_allowed and not target.protected,  # refused above; the guard agrees
            redactor,
            attach=False,
            deadline_s=target.request_deadline_s,
            max_body_bytes=target.max_body_bytes,
        )
        client = make_supabase(target, http.client)
        if db_factory is None and target.database_url:
            db_factory = lambda: connect_db_for_writes(target)  # noqa: E731
    session = _Session(client, db_factory, redactor)
    try:
        try:
            buckets = _buckets(session, target)
            _sweep_rows(session, select, like, result, proof)
            for bucket in buckets:
                _sweep_bucket(session, bucket, select, result, proof, target)
        except _Stop:
            raise
        except Exception as exc:
            raise _classify(exc, target, redactor) from None
    except _Stop as stop:
        result.error = redactor.one_line(f"janitor: {target.name}: {stop}", 600)
        result.exit_code = EXIT_CODES[stop.kind]
        return result
    finally:
        session.close()
        if http is not None:
            http.close()
    left = result.failed or result.left_alone or result.skipped
    result.exit_code = EXIT_CODES["left" if left else "clean"]
    return result


def sweep_run(
    target: Target,
    run_id: str,
    *,
    client: supabase.Client | None = None,
    db_factory: DbFactory | None = None,
    redactor: Redactor | None = None,
) -> SweepResult:
    """Find and remove everything tagged with exactly ``run_id`` (rows and objects in every
    listable bucket), each only after the ownership check; never raises for the target's
    answers (they are in the result)."""
    if not tags.is_run_id(run_id):
        raise ValueError(f"{run_id!r} is not a run id")
    like = f"%{tags.title_tag(run_id)}"
    proof = Proof.of(target, {run_id})
    return _sweep(target, lambda found: found == run_id, like, client, db_factory, redactor, proof)


def _age(run_id: str, now: dt.datetime) -> str:
    started = tags.run_started_at(run_id)
    hours = (now - started).total_seconds() / 3600 if started else float("nan")
    return f"{hours:.1f}h old"


def run_janitor(
    target: Target,
    older_than_s: float,
    out: TextIO,
    *,
    client: supabase.Client | None = None,
    db_factory: DbFactory | None = None,
    now: dt.datetime | None = None,
    recorded: set[str] | frozenset[str] = frozenset(),
) -> int:
    """Remove the leftovers of the ``recorded`` runs that started more than ``older_than_s``
    ago; print one line per thing and a summary; tagged things of newer runs are counted and
    make the exit 1. Returns an exit code of ``EXIT_CODES``."""
    stamp = now or dt.datetime.now(dt.UTC)
    cutoff = stamp - dt.timedelta(seconds=older_than_s)

    def too_new(run_id: str) -> bool:
        started = tags.run_started_at(run_id)
        return started is None or started >= cutoff

    proof = Proof.of(target, recorded, too_new=too_new)
    result = _sweep(target, lambda run_id: True, "%[gate gr%", client, db_factory, None, proof)
    if result.error is not None:
        out.write(result.error + "\n")
        return result.exit_code
    for what in result.removed:
        run_id = what.rsplit("(", 1)[-1].rstrip(")")
        out.write(f"removed {what[:-1]}, {_age(run_id, stamp)})\n")
    for line in result.left_alone:
        out.write(f"left alone {line}\n")
    for line in result.failed:
        out.write(f"FAILED {line}\n")
    for line in result.skipped:
        out.write(f"skipped (newer than --older-than) {line}\n")
    out.write(
        f"janitor: {target.name}: removed {len(result.removed)}, failed {len(result.failed)},"
        f" left alone {len(result.left_alone)}, skipped {len(result.skipped)} of newer runs\n"
    )
    return result.exit_code
