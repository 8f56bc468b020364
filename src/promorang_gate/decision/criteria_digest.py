"""The identity of the criteria in force, and the same identity read at a git ref.

A gate file records the digests of the checklist and gate files and of the project's
environment profiles; ``promorang-gate verdict --criteria-from REF`` recomputes them from the
protected branch, so criteria changed in a commit (not only uncommitted edits) are caught.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from promorang_gate.errors import ConfigError
from promorang_gate.git import GIT_TIMEOUT_S

__all__ = ["criteria_digests", "digests_at", "files_digest"]

_SUFFIXES = {"checklists": (".yaml", ".yml"), "profiles": (".toml",)}


def files_digest(files: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over (name, content) pairs in name order (as ``gates.checklists_digest``)."""
    digest = hashlib.sha256()
    for name, content in sorted(files):
        digest.update(name.encode() + b"\0" + content + b"\0")
    return "sha256:" + digest.hexdigest()


def _local(directory: Path | None, suffixes: tuple[str, ...]) -> str:
    if directory is None or not directory.is_dir():
        return files_digest(())
    files = [p for p in directory.iterdir() if p.is_file() and p.suffix in suffixes]
    return files_digest((p.name, p.read_bytes()) for p in files)


def criteria_digests(checklists: Path, environments: Path | None) -> dict[str, str]:
    """Digest of the checklist and gate files, and of the project's profiles."""
    return {
        "checklists": _local(checklists, _SUFFIXES["checklists"]),
        "profiles": _local(environments, _SUFFIXES["profiles"]),
    }


def _git(directory: Path, *args: str) -> bytes:
    exe = shutil.which("git")
    if exe is None:
        raise ConfigError("--criteria-from needs git")
    try:
        proc = subprocess.run(
            [exe, "-C", str(directory), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"--criteria-from: git failed ({type(exc).__name__})") from None
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise ConfigError(f"--criteria-from: git {args[0]} failed: {''.join(why)[:200]}")
    return proc.stdout


def _at(ref: str, directory: Path, suffixes: tuple[str, ...]) -> str:
    if not directory.is_dir():
        return files_digest(())
    names = _git(directory, "ls-tree", "--name-only", ref, "--", ".").decode().splitlines()
    wanted = [n for n in names if "/" not in n and n.endswith(suffixes)]
    return files_digest((n, _git(directory, "show", f"{ref}:./{n}")) for n in wanted)


def digests_at(ref: str, checklists: Path, environments: Path) -> dict[str, str]:
    """The same digests as the files stood at the git ``ref`` (e.g. origin/main)."""
    if not ref or ref.startswith("-"):
        raise ConfigError(f"--criteria-from {ref!r}: give a git ref, e.g. origin/main")
    _git(checklists, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return {
        "checklists": _at(ref, checklists, _SUFFIXES["checklists"]),
        "profiles": _at(ref, environments, _SUFFIXES["profiles"]),
    }
