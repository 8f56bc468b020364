"""Re-reading a gate file for a later decision (``promorang-gate verdict``): only a fresh
``allow`` of the right environment, gate and criteria counts; every other case is refused with
one line and its own exit code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from promorang_gate.decision.checklists import load_catalog
from promorang_gate.decision.gates import checklists_digest, load_gates
from promorang_gate.decision.verdict import STATUSES
from promorang_gate.decision.webhook_scope import profile_not_required
from promorang_gate.durations import format_duration
from promorang_gate.errors import ConfigError
from promorang_gate.identity.deployed import same_commit

__all__ = ["FORMAT", "Exit", "GateFile", "Refused", "check_gate_file", "running_marker"]

# The gate file's format: written by the reporter, the only one this reader accepts.
FORMAT = 2


def running_marker(directory: Path, env: str) -> Path:
    """The marker naming a run of ``env`` that has started and not yet written its verdict."""
    return directory / f".gate-{env}.running"


class Exit(IntEnum):
    """Exit codes of ``promorang-gate verdict`` (documented in the README)."""

    ALLOW = 0
    BLOCK = 1
    USAGE = 2
    MISSING = 3
    MALFORMED = 4
    STALE = 5
    OTHER_GATE_OR_CRITERIA = 6
    OTHER_BUILD = 7


class Refused(Exception):
    """The file cannot be used for a decision; ``code`` says why (an ``Exit``)."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GateFile:
    path: Path
    data: dict[str, Any]

    @property
    def items(self) -> list[dict[str, Any]]:
        return [item for c in self.data["checklists"] for item in c["items"]]

    @property
    def blockers(self) -> list[dict[str, Any]]:
        return [
            i
            for i in self.items
            if i.get("gating", True) and i["status"] not in ("passed", "manual_signed")
        ]

    @property
    def not_removed(self) -> list[str]:
        """What the run created and could not remove: the run failed, whatever its verdict."""
        leftovers = self.data.get("leftovers") or {}
        return [str(x) for x in leftovers.get("not_removed") or []]


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _malformed(path: Path, why: str) -> Refused:
    return Refused(Exit.MALFORMED, f"{path}: malformed gate file: {why}")


#: No gate file comes near this; a larger one is not read.
MAX_BYTES = 16 * 1024 * 1024
#: Nesting deeper than any gate file's (a few levels): refused before the parser recurses.
MAX_DEPTH = 64


def _too_deep(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _load(path: Path, env: str) -> GateFile:
    if not path.is_file():
        raise Refused(
            Exit.MISSING, f"{path}: no gate file for env '{env}' (run the gate: pytest --env {env})"
        )
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise _malformed(path, f"larger than {MAX_BYTES} bytes")
        text = raw.decode("utf-8")
        if _too_deep(text):
            raise _malformed(path, f"nested deeper than {MAX_DEPTH} levels")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _malformed(path, f"not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _malformed(path, f"not a gate file of format {FORMAT}")
    return GateFile(path, data)


def _check_shape(gate_file: GateFile, env: str) -> None:
    data, path = gate_file.data, gate_file.path
    if data.get("environment") != env:
        raise _malformed(path, f"it is the verdict of env {data.get('environment')!r}, not {env!r}")
    if data.get("verdict") not in ("allow", "block"):
        raise _malformed(path, "'verdict' must be allow or block")
    gate = data.get("gate")
    if not isinstance(gate, dict) or not isinstance(gate.get("name"), str):
        raise _malformed(path, "'gate' must name the gate that judged it")
    checklists = data.get("checklists")
    if not isinstance(checklists, list) or not all(
        isinstance(c, dict) and isinstance(c.get("items"), list) for c in checklists
    ):
        raise _malformed(path, "'checklists' must be a list of checklists with items")
    for item in gate_file.items:
        if not isinstance(item, dict) or item.get("status") not in STATUSES:
            raise _malformed(path, f"item {item!r:.80} has no valid status")
        if not isinstance(item.get("id"), str):
            raise _malformed(path, f"item {item!r:.80} has no id")
    for key, kind in (("counts", dict), ("leftovers", dict), ("flags", list), ("criteria", dict)):
        if key in data and not isinstance(data[key], kind):
            raise _malformed(path, f"'{key}' must be a {kind.__name__}")
    if not isinstance((data.get("criteria") or {}).get("checklists") or {}, dict):
        raise _malformed(path, "'criteria.checklists' must be a mapping")
    if _parse_time(data.get("finished_at")) is None:
        raise _malformed(path, "'finished_at' must be an ISO date-time")


def _check_whole(gate_file: GateFile, env: str, signing_key: str | None) -> None:
    _check_signature(gate_file, signing_key)
    _check_shape(gate_file, env)
    _check_consistent(gate_file)


def _check_consistent(gate_file: GateFile) -> None:
    """The verdict and the required items must agree with the items the file lists."""
    data, path = gate_file.data, gate_file.path
    listed = [i["id"] for i in gate_file.items]
    required = data["gate"].get("required")
    if (
        not isinstance(required, list)
        or not all(isinstance(r, str) for r in required)
        or sorted(required) != sorted(listed)
    ):
        raise _malformed(path, "its items are not the items its gate requires")
    expected = "block" if gate_file.blockers else "allow"
    if data["verdict"] != expected:
        raise _malformed(
            path, f"its verdict {data['verdict']!r} contradicts its items (they say {expected!r})"
        )


def _check_gate_and_criteria(gate_file: GateFile, gate: str, checklists: Path) -> None:
    data, path = gate_file.data, gate_file.path
    if data["gate"]["name"] != gate:
        raise Refused(
            Exit.OTHER_GATE_OR_CRITERIA,
            f"{path}: judged by gate '{data['gate']['name']}', not '{gate}'",
        )
    recorded = ((data.get("criteria") or {}).get("checklists") or {}).get("digest")
    current = checklists_digest(checklists)
    if recorded != current:
        raise Refused(
            Exit.OTHER_GATE_OR_CRITERIA,
            f"{path}: judged with other checklists (digest {recorded}) than {checklists}"
            f" ({current})",
        )
    _check_requirements(gate_file, gate, checklists)


def _check_requirements(gate_file: GateFile, gate: str, checklists: Path) -> None:
    """Same digest, so the repository's gate must be what the file judged: every item it
    requires listed, each gating as the checklists say (a file cannot drop or excuse one)."""
    try:
        catalog = load_catalog(checklists)
        requires = load_gates(catalog)[gate].requires
    except (ConfigError, KeyError) as exc:
        raise Refused(Exit.USAGE, f"{checklists}: cannot read gate {gate!r}: {exc}") from None
    path, known = gate_file.path, catalog.items
    env = str(gate_file.data.get("environment"))
    # The webhook items this env does not require (its profile, not the file, says so).
    excused = profile_not_required(catalog, env, checklists.parent / "environments", os.environ)
    requires = tuple(i for i in requires if i not in excused)
    if sorted(gate_file.data["gate"]["required"]) != sorted(requires):
        raise _malformed(path, f"its items are not the items gate '{gate}' requires")
    for item in gate_file.items:
        if bool(item.get("gating", True)) != known[item["id"]].gating:
            raise _malformed(path, f"item {item['id']} is not gating as its checklist says")


def _check_fresh(gate_file: GateFile, env: str, max_age_s: float, now: dt.datetime) -> None:
    data, path = gate_file.data, gate_file.path
    finished = _parse_time(data["finished_at"])
    assert finished is not None  # checked by _check_shape
    marker = running_marker(path.parent, env)
    if marker.is_file():
        try:
            newer = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            newer = {}
        if not isinstance(newer, dict):
            newer = {}
        if newer.get("run_id") != data.get("run_id"):
            why = str(newer.get("reason") or "interrupted?")[:200]
            raise Refused(
                Exit.STALE,
                f"{path}: a newer run ({newer.get('run_id', '?')}, started"
                f" {newer.get('started_at', '?')}) never reached a verdict ({why})",
            )
    age = (now - finished).total_seconds()
    if age < -CLOCK_SKEW_S:
        raise Refused(
            Exit.STALE,
            f"{path}: finished_at {data['finished_at']} is in the future: no run wrote that",
        )
    if age > max_age_s:
        raise Refused(
            Exit.STALE,
            f"{path}: stale: finished {format_duration(round(age))} ago at {data['finished_at']},"
            f" older than --max-age {format_duration(max_age_s)}",
        )


#: How far ahead of this machine's clock a file's finish may be (another machine's clock).
CLOCK_SKEW_S = 120.0


def _check_run(gate_file: GateFile, run_id: str | None, attempt: str | None = None) -> None:
    """The file must come from the run being decided (CI: this workflow run), and given
    ``attempt``, from that attempt of it (a re-run must not reuse an earlier attempt's file)."""
    data, path = gate_file.data, gate_file.path
    if run_id and run_id not in (data.get("ci_run_id"), data.get("run_id")):
        raise Refused(
            Exit.STALE,
            f"{path}: written by run {data.get('ci_run_id') or data.get('run_id')!s:.80},"
            f" not by run {run_id} (--run-id, default $GITHUB_RUN_ID)",
        )
    if attempt and str(data.get("ci_run_attempt")) != attempt:
        raise Refused(
            Exit.STALE,
            f"{path}: written by attempt {data.get('ci_run_attempt')!s:.20} of run {run_id},"
            f" not by this attempt ({attempt}, $GITHUB_RUN_ATTEMPT): in CI without --max-age"
            " only this workflow run's own file counts",
        )


def _check_signature(gate_file: GateFile, key: str | None) -> None:
    if key is None:
        return
    from promorang_gate.decision.signing import KEY_VARIABLE, valid

    if "signature" not in gate_file.data:
        raise _malformed(gate_file.path, f"not signed, but {KEY_VARIABLE} is set")
    if not valid(gate_file.data, key):
        raise _malformed(
            gate_file.path, f"its signature does not match its content and {KEY_VARIABLE}"
        )


def check_criteria_from(
    gate_file: GateFile, ref: str, checklists: Path, environments: Path
) -> None:
    """The criteria the file was judged by must be those of ``ref`` (the protected branch)."""
    from promorang_gate.decision.criteria_digest import digests_at

    try:
        at_ref = digests_at(ref, checklists, environments)
    except ConfigError as exc:
        raise Refused(Exit.USAGE, str(exc)) from None
    recorded = (gate_file.data.get("criteria") or {}).get("digests") or {}
    differ = [part for part, digest in at_ref.items() if recorded.get(part) != digest]
    if differ:
        raise Refused(
            Exit.OTHER_GATE_OR_CRITERIA,
            f"{gate_file.path}: judged with criteria that differ from {ref}:"
            f" {', '.join(differ)} (criteria changed since {ref}; --accept-flags does not"
            " pass this)",
        )


def _check_flags(gate_file: GateFile) -> None:
    flags = gate_file.data.get("flags") or []
    if flags:
        more = f" (and {len(flags) - 1} more)" if len(flags) > 1 else ""
        raise Refused(
            Exit.OTHER_GATE_OR_CRITERIA,
            f"{gate_file.path}: judged with criteria not as shipped: {flags[0]}{more};"
            " --accept-flags uses it anyway",
        )


def _check_build(gate_file: GateFile, expect_commit: str) -> None:
    """The file was made for the build ``expect_commit``: it expected that commit, and every
    commit the deployment stated is that commit."""
    identity = gate_file.data.get("identity")
    path = gate_file.path
    if not isinstance(identity, dict):
        raise Refused(Exit.OTHER_BUILD, f"{path}: records no deployed identity (release.identity)")
    expected = identity.get("expected_commit")
    if not isinstance(expected, str) or not same_commit(expected, expect_commit):
        raise Refused(
            Exit.OTHER_BUILD,
            f"{path}: made for the release {str(expected)[:12]}, not {expect_commit[:12]}",
        )
    for part in ("api", "frontend"):
        stated = identity.get(f"{part}_commit")
        if isinstance(stated, str) and not same_commit(stated, expect_commit):
            raise Refused(
                Exit.OTHER_BUILD,
                f"{path}: the {part} it tested runs {stated[:12]}, not {expect_commit[:12]}",
            )


def check_gate_file(
    directory: Path,
    env: str,
    gate: str,
    *,
    checklists: Path,
    max_age_s: float,
    accept_flags: bool = False,
    now: dt.datetime | None = None,
    expect_commit: str | None = None,
    run_id: str | None = None,
    run_attempt: str | None = None,
    signing_key: str | None = None,
    criteria_from: tuple[str, Path] | None = None,
) -> GateFile:
    """The gate file of ``env`` if it is whole, signed (when a key is given), consistent, of
    ``gate`` and the repository's criteria (nothing flagged, unless accepted), of the run
    ``run_id`` (and its attempt ``run_attempt``), fresh and (given ``expect_commit``) made for
    that build; else ``Refused`` with
    the reason and exit code."""
    gate_file = _load(directory / f"gate-{env}.json", env)
    try:
        _check_whole(gate_file, env, signing_key)
    except RecursionError:
        raise _malformed(gate_file.path, f"nested deeper than {MAX_DEPTH} levels") from None
    _check_gate_and_criteria(gate_file, gate, checklists)
    if criteria_from is not None:
        check_criteria_from(gate_file, criteria_from[0], checklists, criteria_from[1])
    _check_run(gate_file, run_id, run_attempt)
    if not accept_flags:
        _check_flags(gate_file)
    _check_fresh(gate_file, env, max_age_s, now or dt.datetime.now(dt.UTC))
    if expect_commit:
        _check_build(gate_file, expect_commit)
    return gate_file
