"""Which templated paths the fast engine sends without encoding them at each request:
only those that are their own request target whatever their slots hold. Pure: no I/O."""

from __future__ import annotations

import random

import pytest

from perfrun.engine.fast_flow import _as_is
from perfrun.engine.target import request_target
from perfrun.scenario.templates import Context, compile_template


@pytest.mark.parametrize(
    ("prefix", "path", "as_is"),
    [
        ("", "/x/{{ $iteration }}", True),
        ("/api", "/x/{{ $user }}?page={{ $random_int(1, 9) }}", True),
        ("", "/{{ $uuid }}", True),
        ("", "/a b/{{ $iteration }}", False),  # the space is encoded
        ("/caf\u00e9", "/{{ $iteration }}", False),
        ("", "/x/{{ $iteration }}#frag", False),  # a fragment is not sent
        ("", "/items/{{ item }}", False),  # a variable may hold anything
    ],
)
def test_a_path_is_sent_as_rendered_only_when_it_always_encodes_to_itself(
    prefix: str, path: str, as_is: bool
) -> None:
    template = compile_template(path)
    assert _as_is(prefix, template) is as_is
    if as_is:
        for user in range(20):
            context = Context(user, user * 7, random.Random(user))
            rendered = prefix + template.render({}, context)
            assert request_target(rendered) == rendered
