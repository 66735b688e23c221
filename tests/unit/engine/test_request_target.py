"""The fast engine's request target is the one httpx sends, byte for byte (pure logic)."""

from __future__ import annotations

import random

import httpx
import pytest

from perfrun.engine.target import request_target

PATHS = [
    "/",
    "",
    "/health",
    "/items?id=1&b=2",
    "/a b/c d?q=x y",
    "/%41%zz/100%",
    "/é/ü?name=Zoë",
    "/path#fragment",
    "/q?#frag",
    "/a?b?c=d",
    "/weird/\"<>`{}|\\^[]@:;=,+$!*()'~",
    "/q?x=\"<>`{}|\\^[]'",
    "/emoji/🙂?e=🙂",
    "/./a/../b",
    "?only=query",
    "",
    "/%2F/%2f?%3D=%3d",
]


@pytest.mark.parametrize("path", PATHS)
def test_request_target_is_what_httpx_sends(path: str) -> None:
    assert request_target(path) == httpx.URL(path).raw_path.decode("ascii")


@pytest.mark.parametrize("path", ["/tab\there", "/ctl\x01", "/del\x7f", "/nl\r\nX: y"])
def test_a_control_character_is_refused_as_httpx_refuses_it(path: str) -> None:
    with pytest.raises(httpx.InvalidURL):
        httpx.URL(path)
    with pytest.raises(ValueError, match="non-printable"):
        request_target(path)


def test_generated_targets_are_what_httpx_sends() -> None:
    """Most targets encode to themselves (a shortcut skips the per-character look);
    generated ones, plain and not, from every character class, are httpx's all the
    same."""
    rng = random.Random(10)
    alphabet = "/azAZ09-._~%?#&=+ é\"<>`{}[]|\\^'@:;!$*,()🙂"
    for _ in range(3000):
        path = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        if path.startswith("//"):
            continue  # httpx reads `//host/…` as an authority: not a path
        assert request_target(path) == httpx.URL(path).raw_path.decode("ascii"), path
