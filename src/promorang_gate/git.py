"""Asking git about a checkout (the suite's commit, the release's, whether files are ignored or
changed); every question degrades to "unknown" when git is missing or fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["GIT_TIMEOUT_S", "git", "git_output"]

GIT_TIMEOUT_S = 10.0


def git(directory: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """``git -C directory ARGS``; None when git is missing or could not run."""
    exe = shutil.which("git")
    if exe is None:
        return None
    try:
        return subprocess.run(
            [exe, "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def git_output(directory: Path, *args: str) -> str | None:
    """The stripped output of a git command that succeeded with output, else None."""
    proc = git(directory, *args)
    output = proc.stdout.strip() if proc is not None else ""
    return output if proc is not None and proc.returncode == 0 and output else None
