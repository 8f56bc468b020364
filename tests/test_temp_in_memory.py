"""Where the project's tests keep their temporary files (tests/temp_in_memory.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import temp_in_memory


@pytest.fixture
def shared_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in /dev/shm; the process's TMPDIR and tempfile's choice restored afterwards."""
    monkeypatch.setattr(temp_in_memory, "SHARED_MEMORY", tmp_path)
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.delenv("PYTEST_DEBUG_TEMPROOT", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    return tmp_path


def test_temp_files_go_to_a_directory_of_ours_in_shared_memory(shared_memory: Path) -> None:
    root = temp_in_memory.use_memory_for_temp_files()
    assert root == shared_memory / f"promorang-tests-{os.getuid()}"
    assert os.environ["TMPDIR"] == str(root)
    assert tempfile.gettempdir() == str(root)
    assert root.stat().st_mode & 0o777 == 0o711


def test_a_temp_dir_the_caller_chose_is_kept(
    shared_memory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", "/var/tmp")
    assert temp_in_memory.use_memory_for_temp_files() is None
    assert os.environ["TMPDIR"] == "/var/tmp"


def test_too_little_shared_memory_leaves_files_on_disk(
    shared_memory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(temp_in_memory, "MIN_FREE_BYTES", 2**62)
    assert temp_in_memory.use_memory_for_temp_files() is None
    assert "TMPDIR" not in os.environ


def test_a_link_planted_in_its_place_is_not_used(shared_memory: Path) -> None:
    elsewhere = shared_memory / "elsewhere"
    elsewhere.mkdir()
    (shared_memory / f"promorang-tests-{os.getuid()}").symlink_to(elsewhere)
    assert temp_in_memory.use_memory_for_temp_files() is None
    assert "TMPDIR" not in os.environ
