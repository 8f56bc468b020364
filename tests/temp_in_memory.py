"""The project's tests keep their temporary files in memory where the machine has room.

A test run writes some hundred thousand small files (each gate run's Allure results, gate file
and JUnit, pytester's directories, the sandboxes' repositories and Chromium's profiles) and
pytest deletes an earlier run's tree at the end. On a disk each file creation costs 0.3 ms or
more (measured on the 2-core machine: 0.32 ms a file on its disk, 0.018 ms on /dev/shm); in
memory (tmpfs) it is nearly free. Nothing is proved differently: only where the files are.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["use_memory_for_temp_files"]

SHARED_MEMORY = Path("/dev/shm")
# A run keeps ~0.3 GB of temporary files (pytest keeps the last run's tree: tests/pytest.ini);
# below this much free memory the files stay on disk (a container's /dev/shm is often 64 MB).
MIN_FREE_BYTES = 4 * 1024**3


def use_memory_for_temp_files() -> Path | None:
    """Point TMPDIR (this process, its children, pytest's ``tmp_path``) at a directory of
    /dev/shm owned by this user; returns it, or None where the caller chose a temp dir
    (TMPDIR, PYTEST_DEBUG_TEMPROOT) or /dev/shm is missing, too small or not ours to use."""
    if os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return None
    try:
        free = os.statvfs(SHARED_MEMORY)
        if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
            return None
        root = SHARED_MEMORY / f"promorang-tests-{os.getuid()}"
        root.mkdir(mode=0o711, exist_ok=True)
        owned = root.lstat()
        if not stat.S_ISDIR(owned.st_mode) or owned.st_uid != os.getuid():
            return None  # another user's directory (or a link) in a world-writable place
        # Others may pass through, not list or write: run as root, the private cluster's
        # initdb runs as the postgres user in a directory made here (as under /tmp).
        root.chmod(0o711)
    except OSError:
        return None
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    return root
