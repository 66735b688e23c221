"""The fast reader of plain YAML (`_plain.py`) against the bounded composer, on
generated documents: whatever it reads, it reads as the composer does (values, their
types, every line), and whatever it leaves (`Unusual`, or a parser error) the composer
reads (`read_text` falls back to it).

Two sources: documents dumped from generated values in block, flow and mixed styles;
and those texts mutated character-wise with YAML's indicators (`&`, `*`, `!`, `<<`, `?`,
`---`, quotes, brackets), so that anchors, aliases, tags, merge keys, complex keys and
syntax errors land anywhere.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfrun.scenario._parse import _LineLoader
from perfrun.scenario._plain import Unusual, read_plain
from perfrun.scenario.limits import Limits
from tests.unit.scenario.test_plain import same

LIMITS = Limits(alias_nodes=20_000, depth=12)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["1s", "yes", "No", "~", "<<", "0x1F", "1_000", "2026-12-01", "${A}", ""]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers(0, 9)), inner, max_size=4),
    ),
    max_leaves=30,
)
INDICATORS = ["&a ", "*a", "!!str ", "!x ", "<<: ", "? ", "---\n", "'", '"', "[", "]", "{", "}"]


def fast(text: str) -> Any:
    loader = _LineLoader(text, LIMITS)
    try:
        return read_plain(loader, LIMITS)
    finally:
        loader.dispose()


def composed(text: str) -> Any:
    loader = _LineLoader(text, LIMITS)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def check(text: str) -> None:
    """Read fast, the same as composed; or left to the composer."""
    try:
        value = fast(text)
    except (Unusual, yaml.YAMLError):
        return
    same(value, composed(text))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.sampled_from([False, True, None]))
def test_a_dumped_document_reads_as_composed(value: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    same(fast(text), composed(text))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(INDICATORS)), max_size=4))
def test_a_mutated_document_reads_as_composed_or_is_left_to_the_composer(
    value: Any, edits: list[tuple[int, str]]
) -> None:
    text = yaml.safe_dump({"a": value, "b": [value]}, default_flow_style=None)
    for where, indicator in edits:
        at = where % (len(text) + 1)
        text = text[:at] + indicator + text[at:]
    check(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, VALUES, st.integers(1, 6))
def test_shared_values_read_as_composed_or_are_refused_by_both(
    shared: Any, other: Any, copies: int
) -> None:
    """`yaml.safe_dump` writes a value shared in the document once, with an anchor, and
    aliases for the others: the fast reader reads what the composer reads, and leaves
    what the composer refuses (aliases past LIMITS)."""
    text = yaml.safe_dump(
        {"a": shared, "b": [shared] * copies, "c": {"d": shared, "e": [other, shared]}},
        default_flow_style=None,
    )
    try:
        expected = composed(text)
    except yaml.YAMLError:
        try:
            fast(text)
        except Unusual:
            return
        raise AssertionError("read fast what the composer refuses") from None
    same(fast(text), expected)
