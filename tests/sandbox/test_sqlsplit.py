"""The statement splitter records and locates statements as the Supabase CLI splits them."""

from __future__ import annotations

import pytest

from promorang_sandbox.sqlsplit import line_of, split, split_and_trim


def test_cuts_at_semicolons_outside_literals_comments_and_dollar_quotes() -> None:
    source = (
        "-- a comment; not a cut\n"
        "create table t (x text default 'a;b', \"odd;name\" int);\n"
        "/* block; /* nested; */ still; */ insert into t values ('it''s;');\n"
        "create function f() returns int language sql as $body$ select 1; $body$;\n"
        "do $$ begin perform 1; end $$;"
    )
    assert split_and_trim(source) == [
        "-- a comment; not a cut\ncreate table t (x text default 'a;b', \"odd;name\" int)",
        "/* block; /* nested; */ still; */ insert into t values ('it''s;')",
        "create function f() returns int language sql as $body$ select 1; $body$",
        "do $$ begin perform 1; end $$",
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("select 1;;\n\n", ["select 1"]),
        ("select 1", ["select 1"]),
        ("  \n-- only a comment\n", ["-- only a comment"]),
        ("", []),
        ("select $1::int;", ["select $1::int"]),
    ],
)
def test_blank_pieces_are_dropped_and_a_last_statement_needs_no_semicolon(
    source: str, expected: list[str]
) -> None:
    assert split_and_trim(source) == expected


def test_offsets_map_back_to_lines_of_the_file() -> None:
    source = "-- header\ncreate table a (x int);\n\n/* why */\ncreate index i on a (x);\n"
    first, second = split(source)
    assert source[first.start : first.end] == first.text
    assert line_of(source, first.code_start) == 2
    assert line_of(source, second.code_start) == 5
    assert source[second.code_start :].startswith("create index")
