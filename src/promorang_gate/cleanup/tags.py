"""The run tag: how everything a gate run creates is marked, and the one grammar that reads it.

Creation, the cleanup ledger, the end-of-run sweep and the janitor all use these functions, so
that what one writes the others recognise, and nothing else:

- a content title carries ``[gate <run id>]`` only as its suffix;
- where a case makes the title invalid (a non-string), the row's ``description`` carries the
  same suffix: a row is the run's when its title *or* its description ends with the tag;
- an object path carries ``gate-<run id>`` only at the start of a path segment (the platform
  prefixes uploaded file names with ``<uuid v4>-``, which the grammar allows in front);
- an uploaded PNG carries ``gate-<run id>`` at the start of a ``tEXt`` chunk's text (keyword
  ``Comment``): where the API names the object itself (``content-<ms>.jpg``, for a file name
  that is not a string), its bytes still say whose it is.

Look-alikes such as ``Investigate [gate gr…] regression`` or ``delegate-gr…png`` never match.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib

__all__ = [
    "RUN_ID_PATTERN",
    "is_run_id",
    "object_run_id",
    "object_tag",
    "png_run_id",
    "row_run_id",
    "run_started_at",
    "tagged_png",
    "tagged_title",
    "title_run_id",
    "title_tag",
]

RUN_ID_PATTERN = r"gr\d{8}t\d{6}-[0-9a-f]{6}"
_RUN_ID = re.compile(rf"^(?:{RUN_ID_PATTERN})$")
_TITLE = re.compile(rf"\[gate ({RUN_ID_PATTERN})\]$")
_UUID_PREFIX = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-)?"
_SEGMENT = re.compile(rf"^{_UUID_PREFIX}gate-({RUN_ID_PATTERN})(?:[-._]|$)")
_PNG_TEXT = re.compile(rf"^gate-({RUN_ID_PATTERN})(?:[-._]|$)")


def is_run_id(text: str) -> bool:
    return bool(_RUN_ID.match(text))


def title_tag(run_id: str) -> str:
    return f"[gate {run_id}]"


def tagged_title(text: str, run_id: str) -> str:
    """``text`` with the run's tag as its suffix (an older tag of the same run is not doubled)."""
    tag = title_tag(run_id)
    base = text[: -len(tag)].rstrip() if text.endswith(tag) else text.rstrip()
    return f"{base} {tag}" if base else tag


def title_run_id(title: str) -> str | None:
    """The run id of a title tagged by the gate, or None."""
    match = _TITLE.search(title)
    return match.group(1) if match else None


def row_run_id(title: object, description: object = None) -> str | None:
    """The run id of a stored row: its title's tag, else its description's, else None."""
    for text in (title, description):
        found = title_run_id(text) if isinstance(text, str) else None
        if found:
            return found
    return None


def object_tag(run_id: str) -> str:
    """Prefix of every file name and folder a run creates in storage: ``gate-<run id>``."""
    return f"gate-{run_id}"


def object_run_id(path: str) -> str | None:
    """The run id tagging an object path (any segment, at its start), or None."""
    for segment in path.split("/"):
        match = _SEGMENT.match(segment)
        if match:
            return match.group(1)
    return None


def run_started_at(run_id: str) -> dt.datetime | None:
    """The UTC second a run id encodes (``gr20261125t164700-…``), or None."""
    if not is_run_id(run_id):
        return None
    try:
        stamp = dt.datetime.strptime(run_id[2:17], "%Y%m%dt%H%M%S")
    except ValueError:
        return None
    return stamp.replace(tzinfo=dt.UTC)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COMMENT = b"Comment\x00"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def tagged_png(marker: str) -> bytes:
    """A real 1x1 PNG whose ``tEXt`` chunk (keyword ``Comment``) holds ``marker``; with a
    ``marker`` starting ``gate-<run id>`` the stored bytes prove the run's ownership."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixel = zlib.compress(b"\x00\xff\x66\x00\xff")
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"tEXt", _PNG_COMMENT + marker.encode())
        + _png_chunk(b"IDAT", pixel)
        + _png_chunk(b"IEND", b"")
    )


def png_run_id(data: bytes) -> str | None:
    """The run id a PNG's ``Comment`` text chunk carries (``gate-<run id>`` at its start), read
    chunk by chunk with their CRCs checked, or None: bytes that merely contain the text (or are
    no PNG) prove nothing."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    at = len(_PNG_SIGNATURE)
    while at + 12 <= len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        body = data[at + 4 : at + 8 + size]
        crc = data[at + 8 + size : at + 12 + size]
        if len(body) != size + 4 or len(crc) != 4 or struct.pack(">I", zlib.crc32(body)) != crc:
            return None
        kind, text = body[:4], body[4:]
        if kind == b"tEXt" and text.startswith(_PNG_COMMENT):
            match = _PNG_TEXT.match(text[len(_PNG_COMMENT) :].decode("latin-1"))
            return match.group(1) if match else None
        if kind == b"IEND":
            return None
        at += 12 + size
    return None
