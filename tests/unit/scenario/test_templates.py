"""Templates compile once and render by substitution; bad ones are refused with the slot
named. Pure: no I/O."""

from __future__ import annotations

import json
import pickle
import random
import re

import pytest

from perfrun.scenario.templates import (
    Context,
    TemplateError,
    compile_json,
    compile_template,
)

CONTEXT = Context(user=3, iteration=7, rng=random.Random(1))


@pytest.mark.parametrize(
    ("text", "variables", "rendered"),
    [
        ("/health", {}, "/health"),
        ("/items/{{ item }}", {"item": "42"}, "/items/42"),
        (
            "/items/{{item}}?owner={{ user }}",
            {"item": "a b", "user": "ann"},
            "/items/a b?owner=ann",
        ),
        ("Bearer {{ token }}", {"token": "t.k.n"}, "Bearer t.k.n"),
        ("u{{ $user }}-i{{ $iteration }}", {}, "u3-i7"),
        ("{{ x }}{{ x }}", {"x": "ab"}, "abab"),
        ("{{ x }}", {"x": "ab"}, "ab"),
        ("{{ x }}.json", {"x": "ab"}, "ab.json"),
        ("/a/{{ x }}/b", {"x": "ab"}, "/a/ab/b"),
        ("{ not a slot }", {}, "{ not a slot }"),
    ],
)
def test_templates_substitute_variables_and_built_ins(
    text: str, variables: dict[str, str], rendered: str
) -> None:
    template = compile_template(text)
    assert template.render(variables, CONTEXT) == rendered
    assert template.static == ("{{" not in text)
    assert template.variables == frozenset(variables)


def test_random_built_ins_stay_in_range_and_change() -> None:
    dice = compile_template("{{ $random_int(1, 6) }}")
    ids = compile_template("{{ $uuid }}")
    rolls = {int(dice.render({}, CONTEXT)) for _ in range(500)}
    assert rolls == {1, 2, 3, 4, 5, 6}
    uuids = {ids.render({}, CONTEXT) for _ in range(100)}
    assert len(uuids) == 100
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u)
        for u in uuids
    )
    stamp = int(compile_template("{{ $timestamp_ms }}").render({}, CONTEXT))
    assert stamp > 1_700_000_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ }}", "empty"),
        ("{{ a b }}", "a variable is a name"),
        ("{{ 1x }}", "a variable is a name"),
        ("{{ $nope }}", "unknown built-in $nope"),
        ("{{ $nope(1) }}", "unknown built-in $nope()"),
        ("{{ $random_int(6, 1) }}", "bounds reversed"),
        ("{{ $random_int(1) }}", "two integers"),
        ("{{ $random_int(a, b) }}", "two integers"),
        ("/x/{{ y", "without a closing"),
    ],
)
def test_bad_templates_are_refused_naming_the_slot(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        compile_template(text)


def test_json_bodies_template_string_leaves_and_escape_values() -> None:
    body = {
        "user": "{{ user }}",
        "count": 5,
        "tags": ["static", 'quote"d', "{{ $iteration }}"],
        "{{ key }}": "keys are never templates",
        "nested": {"note": "by {{ user }} at {{ $user }}"},
        "none": None,
    }
    template = compile_json(body)
    assert template.variables == {"user"}
    hostile = 'a"b\\c\n</script>'
    document = json.loads(template.render({"user": hostile}, CONTEXT))
    assert document == {
        "user": hostile,
        "count": 5,
        "tags": ["static", 'quote"d', "7"],
        "{{ key }}": "keys are never templates",
        "nested": {"note": f"by {hostile} at 3"},
        "none": None,
    }


def test_a_json_body_without_templates_is_static_and_unchanged() -> None:
    body = {"a": [1, 2.5, True, None, "x"], "b": {"c": "\u00e9"}}
    template = compile_json(body)
    assert template.static
    assert json.loads(template.text) == body


def test_templates_cross_to_worker_processes() -> None:
    """Scenarios are pickled to --workers processes: a template comes back compiled."""
    for template in (
        compile_template("/i/{{ item }}?n={{ $user }}"),
        compile_json({"a": "{{ x }}"}),
    ):
        back = pickle.loads(pickle.dumps(template))
        assert back == template
        assert back.render({"item": "7", "x": "1"}, CONTEXT) == template.render(
            {"item": "7", "x": "1"}, CONTEXT
        )


def test_json_text_that_looks_like_a_placeholder_stays_text() -> None:
    template = compile_json({"a": "\x000\x00", "b": "{{ $user }}"})
    assert json.loads(template.render({}, CONTEXT)) == {"a": "\x000\x00", "b": "3"}


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("/static", True),
        ("/i/{{ $iteration }}?u={{ $user }}", True),
        ("/r/{{ $random_int(-5, 5) }}/{{ $uuid }}/{{ $timestamp_ms }}", True),
        ("/items/{{ item }}", False),  # a variable: any text
        ("/i/{{ $iteration }}/{{ item }}", False),
    ],
)
def test_only_built_ins_of_numbers_and_uuids_are_url_safe(text: str, safe: bool) -> None:
    assert compile_template(text).url_safe is safe


def test_a_json_string_slot_is_not_url_safe() -> None:
    assert not compile_json({"n": "{{ $iteration }}"}).url_safe
