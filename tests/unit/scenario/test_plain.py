"""The fast reader of plain YAML documents (`_plain.py`) against the bounded composer
it stands in for: the same values, types and lines, or `Unusual` (the composer's turn)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from perfrun.errors import ScenarioError
from perfrun.scenario._parse import LineDict, LineList, _LineLoader, read_text
from perfrun.scenario._plain import Unusual, read_plain
from perfrun.scenario.limits import Limits


def composed(text: str) -> Any:
    """`text` as the bounded composer reads it."""
    loader = _LineLoader(text, Limits())
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def fast(text: str, limits: Limits | None = None) -> Any:
    limits = Limits() if limits is None else limits
    loader = _LineLoader(text, limits)
    try:
        return read_plain(loader, limits)
    finally:
        loader.dispose()


def same(a: Any, b: Any) -> None:
    """`a` and `b` equal, type for type, line for line."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, LineDict | LineList):
        assert (a.line, a.lines) == (b.line, b.lines)
        assert len(a) == len(b)
        pairs = zip(
            *((x.items() if isinstance(x, dict) else enumerate(x)) for x in (a, b)), strict=True
        )
        for (key_a, item_a), (key_b, item_b) in pairs:
            assert type(key_a) is type(key_b) and key_a == key_b
            same(item_a, item_b)
    elif a != a:  # NaN
        assert b != b
    else:
        assert a == b


PLAIN = [
    "",
    "5",
    "a: 1",
    "scenarios:\n  s: {requests: [{path: /h}], load: {users: 1, duration: 1s}}\n",
    "a:\n  - 1\n  - [2, 3]\n  - {b: c}\nd: e\n",
    "a:\n- x\n- y\nb: z\n",  # a list at its key's indent
    "a: [1, 2.5, .inf, -.nan, true, no, null, ~, '', \"x\", 0x1f, 0o17, 1_000, 2026-12-01]\n",
    "a: !!str 5\nb: !!int '7'\nc: !!float 1\nd: !!binary aGk=\ne: ! 5\n",
    "'1': quoted key\n1: plain key\n",
    "a: |\n  two\n  lines\nb: >\n  folded\n  text\n",
    'a: "${X}"\nb: ${Y:-2}\n',
    "k: 2026-12-01 10:00:00\n",
    "---\na: 1\n...\n",
    "[a, b, {c: [d, {e: f}]}]",
    "a: &x 1\nb: *x\nc: [*x, *x]\n",
    "s0: {load: &load {users: 2, duration: 1s}}\ns1: {load: *load}\ns2: {load: *load}\n",
    "a: &x [&y {b: c}, *y]\nd: *x\ne: [*y, *x]\n",
    "a: &k key\n*k : value\n",
]


@pytest.mark.parametrize("text", PLAIN)
def test_a_plain_document_reads_as_the_composer_reads_it(text: str) -> None:
    same(fast(text), composed(text))


UNUSUAL = {
    "an undefined alias": "a: *x\n",
    "an alias inside what it names": "a: &x [1, *x]\n",
    "an anchor defined twice": "a: &x 1\nb: &x 2\n",
    "an anchor inside itself": "a: &x [&x 1]\n",
    "an alias of a mapping as a key": "a: &x {b: 1}\n? *x\n: c\n",
    "a merge key": "a: {b: 1}\nc:\n  <<: {b: 2}\n",
    "a merge key of an alias": "a: &x {b: 1}\nc:\n  <<: *x\n",
    "a tagged mapping": "a: !!map {b: 1}\n",
    "a tagged list": "a: !!seq [1]\n",
    "a set": "a: !!set {b, c}\n",
    "a set tag on a scalar": "a: !!set foo\n",
    "an omap tag on a scalar": "a: !!omap x\n",
    "a pairs tag on a scalar": "a: !!pairs x\n",
    "a set tag on a key": "!!set x: 1\n",
    "an unknown tag": "a: !thing 1\n",
    "a mapping as a key": "? {a: 1}\n: b\n",
    "a list as a key": "? [a]\n: b\n",
    "a duplicate key": "a: 1\na: 2\n",
    "1 and true are one key": "1: a\ntrue: b\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "an integer too long for Python": "a: " + "9" * 5000 + "\n",
    "a bad date": "a: 2026-13-45\n",
    "a python tag": "a: !!python/object:os.system ls\n",
}


@pytest.mark.parametrize("text", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_what_is_not_plain_is_left_to_the_composer(text: str) -> None:
    with pytest.raises(Unusual):
        fast(text)


@pytest.mark.parametrize("tag", ["!!set", "!!omap", "!!pairs"])
def test_a_collection_tag_on_a_scalar_is_the_composers_error(tag: str) -> None:
    """Their constructors are generators: the value must never reach the document."""
    with pytest.raises(ScenarioError, match=r"^t\.yaml:1:4: YAML syntax error: expected a"):
        read_text(f"a: {tag} x\n", "t.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!map x\n", "expected a mapping node, but found scalar"),
        ("a: !!seq x\n", "expected a sequence node, but found scalar"),
        ("a: !!seq {b: 1}\n", "expected a sequence node, but found mapping"),
        ("a: !!map [1]\n", "expected a mapping node, but found sequence"),
    ],
)
def test_a_map_or_seq_tag_on_the_wrong_node_is_an_error_with_its_place(
    text: str, message: str
) -> None:
    """No traceback (a ValueError or AttributeError from reading it as one before)."""
    with pytest.raises(ScenarioError, match=rf"^t\.yaml:1:4: YAML syntax error: {message}$"):
        read_text(text, "t.yaml")


def test_a_syntax_error_is_the_parsers_and_read_again_by_the_composer() -> None:
    with pytest.raises(yaml.YAMLError):
        fast("a: [1, 2\n")
    with pytest.raises(ScenarioError, match=r"^t\.yaml:2:1: YAML syntax error"):
        read_text("a: [1, 2\n", "t.yaml")


@pytest.mark.parametrize(
    "text",
    [UNUSUAL[name] for name in ("a merge key", "a merge key of an alias", "a tagged list")],
)
def test_what_the_composer_reads_instead_is_what_it_always_read(text: str) -> None:
    same(read_text(text, "t.yaml"), composed(text))


@pytest.mark.parametrize(
    ("nested", "depth"),
    [
        ("[" * 99 + "]" * 99, 100),  # 99 lists and the scalar-less innermost: 99 levels
        ("[" * 99 + "1" + "]" * 99, 100),  # and a scalar inside: 100
        ("a:\n" + "".join("  " * i + "k:\n" for i in range(1, 99)), 100),
    ],
)
def test_nesting_up_to_the_limit_is_read_fast(nested: str, depth: int) -> None:
    same(fast(nested, Limits(depth=depth)), composed(nested))


@pytest.mark.parametrize(
    "nested", ["[" * 100 + "1" + "]" * 100, "[" * 101 + "]" * 101, "[" * 100_000 + "]" * 100_000]
)
def test_nesting_past_the_limit_is_refused_with_its_line(nested: str) -> None:
    with pytest.raises(Unusual):
        fast(nested)
    with pytest.raises(ScenarioError, match=r"^t\.yaml:1:\d+: nested too deeply: 101 levels"):
        read_text(nested, "t.yaml")


def test_the_same_value_made_once_is_shared_only_when_it_cannot_change() -> None:
    document = fast("a: [x, 1, 1s, x]\nb: [x, 1, 1s, x]\n")
    assert document == {"a": ["x", 1, "1s", "x"], "b": ["x", 1, "1s", "x"]}
    assert document["a"] is not document["b"]


def test_an_alias_is_the_object_its_anchor_made() -> None:
    document = fast("a: &x {b: [1]}\nc: *x\n")
    assert document["c"] is document["a"]
    assert document == composed("a: &x {b: [1]}\nc: *x\n")


@pytest.mark.parametrize(
    ("text", "limits", "problem"),
    [
        (
            "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b]\n",
            Limits(alias_nodes=50),
            r"^t\.yaml:3:\d+: YAML aliases expand too far: 62 is above the limit of 50",
        ),
        (
            "a: &a [[[1]]]\nb: [[*a]]\n",
            Limits(depth=6),
            r"^t\.yaml:2:\d+: nested too deeply: 7 levels",
        ),
    ],
)
def test_aliases_past_the_limits_are_left_to_the_composer_which_refuses_them(
    text: str, limits: Limits, problem: str
) -> None:
    with pytest.raises(Unusual):
        fast(text, limits)
    with pytest.raises(ScenarioError, match=problem):
        read_text(text, "t.yaml", limits)


def test_aliases_up_to_the_limits_are_read_fast() -> None:
    text = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b]\n"
    same(fast(text, Limits(alias_nodes=83)), composed(text))
    same(fast("a: &a [[[1]]]\nb: [*a]\n", Limits(depth=6)), composed("a: &a [[[1]]]\nb: [*a]\n"))
