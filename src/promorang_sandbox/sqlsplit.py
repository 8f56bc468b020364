"""Split a migration file into statements the way the Supabase CLI does.

The CLI cuts a file at every ``;`` outside quotes, dollar quotes and comments, keeps each piece as
written (comments and white space included), and stores the pieces, trimmed of the ``;`` and the
surrounding white space, in ``supabase_migrations.schema_migrations.statements``. It also sends
them one at a time, so a failure belongs to one statement. ``split`` keeps each statement's
offset in the file, so an error position inside a statement maps back to a line of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Statement", "line_of", "split", "split_and_trim"]

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")


@dataclass(frozen=True)
class Statement:
    """One statement: ``text`` is ``source[start:end]``, its ``;`` included when it has one."""

    start: int
    end: int
    text: str

    @property
    def trimmed(self) -> str:
        """The text as the CLI stores it: without the trailing ``;`` and outer white space."""
        return self.text.rstrip(";").strip()

    @property
    def code_start(self) -> int:
        """Offset in the file of the statement's first character that is not blank or comment."""
        return self.start + _skip_blank_and_comments(self.text)


def _skip_blank_and_comments(text: str) -> int:
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline + 1
        elif text.startswith("/*", i):
            i = _block_comment_end(text, i)
        else:
            break
    return min(i, len(text))


def _block_comment_end(text: str, i: int) -> int:
    """Offset just past the (nestable) block comment opening at ``i``."""
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return i


def _quoted_end(text: str, i: int, quote: str) -> int:
    """Offset just past the literal opening at ``i`` (a doubled quote stays inside)."""
    i += 1
    while i < len(text):
        if text[i] == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip_token(text: str, i: int) -> int:
    """Offset after the token starting at ``i`` (a literal, comment, escape or one character)."""
    char = text[i]
    if text.startswith("--", i):
        newline = text.find("\n", i)
        return len(text) if newline < 0 else newline + 1
    if text.startswith("/*", i):
        return _block_comment_end(text, i)
    if char in "'\"":
        return _quoted_end(text, i, char)
    if char == "\\":
        return i + 2
    if char == "$":
        tag = _DOLLAR_TAG.match(text, i)
        if tag is not None:
            close = text.find(tag.group(0), tag.end())
            return len(text) if close < 0 else close + len(tag.group(0))
    return i + 1


def split(source: str) -> list[Statement]:
    """Every statement of ``source`` in order, each with its offset; blank pieces are dropped."""
    statements: list[Statement] = []
    start = i = 0
    while i < len(source):
        if source[i] == ";":
            statements.append(Statement(start, i + 1, source[start : i + 1]))
            start = i = i + 1
            continue
        i = _skip_token(source, i)
    if start < len(source):
        statements.append(Statement(start, len(source), source[start:]))
    return [s for s in statements if s.trimmed]


def split_and_trim(source: str) -> list[str]:
    """The statements as the Supabase CLI records them in the migration ledger."""
    return [s.trimmed for s in split(source)]


def line_of(source: str, offset: int) -> int:
    """1-based line of ``source`` holding the character at ``offset``."""
    return source.count("\n", 0, max(0, min(offset, len(source)))) + 1
