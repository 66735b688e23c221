"""Data files and captures: rows read whole when the scenario loads, every bad file
named with its line; captures compiled once and applied to responses. Files in tmp_path
only; no sockets."""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import pytest

from perfrun.scenario.captures import CaptureError, compile_capture
from perfrun.scenario.data import DataError, Order, load_data, row_for

ROWS = [{"user": "ann", "password": "p1"}, {"user": "bob", "password": "p,2"}]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("users.csv", 'user,password\nann,p1\n\nbob,"p,2"\n'),
        ("users.csv", '\ufeffuser , password\r\nann,p1\r\nbob,"p,2"\r\n'),
        ("users.json", '[{"user": "ann", "password": "p1"}, {"user": "bob", "password": "p,2"}]'),
        (
            "users.jsonl",
            '{"user": "ann", "password": "p1"}\n\n{"user": "bob", "password": "p,2"}\n',
        ),
    ],
)
def test_every_format_gives_the_same_rows(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    data = load_data(path, Order.UNIQUE)
    assert [dict(row) for row in data.rows] == ROWS
    assert data.columns == {"user", "password"}


def test_json_values_become_the_text_a_template_substitutes(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"n": 5, "x": 2.5, "ok": true, "none": null, "s": "t"}\n')
    (row,) = load_data(path, Order.RANDOM).rows
    assert row == {"n": "5", "x": "2.5", "ok": "true", "none": "", "s": "t"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "missing.csv: no such file"),
        ("empty.csv", "", "empty.csv:1: a CSV data file starts with a header row"),
        ("header.csv", "user,password\n", "header.csv: no rows"),
        ("short.csv", "user,password\nann,p1\nbob\n", "short.csv:3: 1 values for 2 columns"),
        ("dup.csv", "user,user\na,b\n", "dup.csv:1: column 'user' twice"),
        ("bad.csv", "user name,x\na,b\n", "bad.csv:1: column 'user name' is not a name"),
        ("quote.csv", 'user\n"ann\n', "quote.csv:"),
        ("not.json", '[{"user": "ann"},\n {"user": }]', "not.json:2: not JSON"),
        ("obj.json", '{"user": "ann"}', "obj.json:1: a JSON data file holds an array"),
        ("item.json", '[{"user": "ann"}, 5]', "item.json: item 1 is not an object"),
        ("nest.json", '[{"user": {"a": 1}}]', "column 'user' holds a dict"),
        ("lines.jsonl", '{"user": "a"}\n{"user": \n', "lines.jsonl:2: not JSON"),
        ("list.jsonl", '{"user": "a"}\n[1]\n', "list.jsonl:2: the line is not an object"),
        ("data.txt", "user\nann\n", "data.txt: unknown data format"),
        ("latin.csv", b"user\n\xe9\n", "latin.csv:2: not UTF-8"),
    ],
)
def test_bad_data_files_are_named_with_their_line(
    tmp_path: Path, name: str, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(message)):
        load_data(path, Order.UNIQUE)


def test_rows_per_user_and_iteration_are_the_same_in_any_worker(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("i\n" + "\n".join(str(i) for i in range(5)) + "\n")
    users = 3

    def taken(order: Order, user: int, iteration: int) -> str:
        data = load_data(path, order)
        return row_for(data, user, iteration, users, random.Random(user))["i"]

    assert [taken(Order.UNIQUE, u, k) for u in range(3) for k in range(2)] == list("001122")
    # sequential: iteration 0 of users 0..2, then iteration 1 of users 0..2, wrapping at 5
    assert [taken(Order.SEQUENTIAL, u, k) for k in range(3) for u in range(3)] == list("012340123")
    assert {taken(Order.RANDOM, u, 0) for u in range(3)} <= set("01234")


JSON_BODY = b'{"token": "t-1", "items": [{"id": 7}, {"id": 8}], "ok": true, "n": null}'
HEADERS = {"location": "/items/7", "x-id": "abc"}


@pytest.mark.parametrize(
    ("source", "expression", "body", "taken"),
    [
        ("json", "token", JSON_BODY, "t-1"),
        ("json", "items[0].id", JSON_BODY, "7"),
        ("json", "items[*].id", JSON_BODY, "[7,8]"),
        ("json", "ok", JSON_BODY, "true"),
        ("json", "n", JSON_BODY, None),
        ("json", "missing.deeper", JSON_BODY, None),
        ("json", "token", b"not json", None),
        ("header", "Location", b"", "/items/7"),
        ("header", "X-Missing", b"", None),
        ("regex", r"id=(\d+)", b"see /x?id=42&id=43", "42"),
        ("regex", r"id=(\d+)", b"nothing here", None),
        ("regex", r"(a)|(b)", b"b", None),
        ("status", True, b"", "201"),
    ],
)
def test_captures_take_text_or_nothing(
    source: str, expression: object, body: bytes, taken: str | None
) -> None:
    capture = compile_capture("v", source, expression)
    assert capture.take(201, HEADERS, body) == taken


@pytest.mark.parametrize(
    ("source", "expression", "message"),
    [
        ("json", "items[", "does not parse"),
        ("json", "", "non-empty expression"),
        ("regex", "id=\\d+", "has no group"),
        ("regex", "(", "does not compile"),
        ("status", "yes", "{status: true}"),
        ("cookie", "x", "unknown capture source 'cookie'"),
        ("header", 5, "non-empty expression"),
    ],
)
def test_bad_captures_are_refused_when_the_file_loads(
    source: str, expression: object, message: str
) -> None:
    with pytest.raises(CaptureError, match=re.escape(message)):
        compile_capture("v", source, expression)


def test_captures_cross_to_worker_processes() -> None:
    for capture in (compile_capture("t", "json", "token"), compile_capture("s", "status", True)):
        back = pickle.loads(pickle.dumps(capture))
        assert back == capture
        assert back.take(201, HEADERS, JSON_BODY) == capture.take(201, HEADERS, JSON_BODY)


def test_a_jmespath_that_fails_on_this_response_finds_nothing() -> None:
    capture = compile_capture("n", "json", "length(a)")
    assert capture.take(200, {}, b'{"a": 5}') is None  # length() of a number
    assert capture.take(200, {}, b'{"a": [1, 2]}') == "2"


LOOKUP_DOCUMENTS = [
    {"token": "t", "items": [{"id": 7}, {"id": "8"}], "n": 1.5, "flag": False, "none": None},
    {"items": {"0": "not an array"}, "token": ["a"], "a": {"b": {"c": [1, [2, 3]]}}},
    [{"id": 1}],
    "text",
    3,
    {"x-y": {"z": True}, "items": [], "a": {"b": None}},
]
LOOKUP_EXPRESSIONS = [
    "token", "items[0].id", "items[1].id", "items[-1].id", "items[-3].id", "items[5]",
    "a.b.c[1][0]", "a.b.c[-1][-1]", "a.b.c.d", "n", "flag", "none", '"x-y".z', "[0].id",
    "items[0]", "token[0]", "missing.deeper[0]",
    # not fields and indexes: jmespath's own search runs them
    "items[*].id", "length(items)", "items[?id > `1`].id", "a.b.c[0:1]",
]  # fmt: skip


@pytest.mark.parametrize("expression", LOOKUP_EXPRESSIONS)
def test_json_captures_find_what_jmespath_finds(expression: str) -> None:
    """Fields and indexes are looked up directly (faster than jmespath's search), with
    exactly jmespath's results on every kind of document."""
    import json

    import jmespath

    capture = compile_capture("v", "json", expression)
    for document in LOOKUP_DOCUMENTS:
        body = json.dumps(document).encode()
        try:
            found = jmespath.search(expression, document)
        except (jmespath.exceptions.JMESPathError, TypeError):  # a string > 1: TypeError
            found = None
        expected = None if found is None else (
            found if isinstance(found, str) else json.dumps(found, separators=(",", ":"))
        )  # fmt: skip
        assert capture.take(200, {}, body) == expected, (expression, document)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',  # the last duplicate wins
        b' \n{"a": [1.5, -0.0, 1e400]}\t',  # whitespace; a float past double: json's inf
        b'{"big": 123456789012345678901234567890}',  # past 64 bits: orjson refuses
        b'{"n": NaN}',  # json reads NaN, orjson does not
        '{"u": "é"}'.encode("utf-16"),  # UTF-16 with a BOM: json detects it
        b'{"s": "\\ud800"}',  # a lone surrogate
        b'{"a": 1} trailing',  # not JSON: nothing found
        b"\xff\xfe\x00",  # no text at all
        b"",
    ],
)
def test_json_bodies_read_as_json_reads_them(body: bytes) -> None:
    """The capture reads JSON with orjson where it can and json where orjson refuses:
    the document is always the one json.loads makes."""
    import json

    try:
        expected = json.dumps(json.loads(body), separators=(",", ":"))
    except ValueError:
        expected = None
    assert compile_capture("v", "json", "@").take(200, {}, body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": [1.5, -0.0, 1e400], "big": 1}',
        b'{"big": 123456789012345678901234567890, "a": "text"}',  # orjson: a float
        b'{"a": {"big": [-9223372036854775809]}}',  # inside what is captured
        b'{"big": 18446744073709551615, "a": 9223372036854775807}',  # still 64 bits
        b'{"n": NaN, "a": 1}',
        '{"a": "é"}'.encode("utf-16"),
        b'{"a": "\\ud800"}',
        b'{"a": true, "big": false, "n": null}',
        b'[{"a": 1}] trailing',
    ],
)
@pytest.mark.parametrize("expression", ["a", "big", "a.big", "a.big[0]", "a[0]", "n"])
def test_looked_up_captures_read_the_document_json_reads(body: bytes, expression: str) -> None:
    """A field or index lookup parses with orjson without first scanning the body for
    long integers: what it captures is still what it is in json's document."""
    import json

    import jmespath

    try:
        found = jmespath.search(expression, json.loads(body))
    except ValueError:
        found = None
    expected = None if found is None else (
        found if isinstance(found, str) else json.dumps(found, separators=(",", ":"))
    )  # fmt: skip
    assert compile_capture("v", "json", expression).take(200, {}, body) == expected
