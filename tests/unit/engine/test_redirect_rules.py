"""The fast engine's redirect rules, as httpx's: which method a redirect continues with,
and which URLs count as the same origin. Pure."""

from __future__ import annotations

import pytest

from perfrun.engine.fast_flow import StepPlan, next_hop, redirect_method, same_origin
from perfrun.engine.fast_wire import Prepared
from perfrun.scenario.model import RequestSpec


@pytest.mark.parametrize(
    ("method", "status", "then"),
    [
        ("POST", 301, "GET"), ("PUT", 301, "PUT"), ("POST", 302, "GET"), ("PUT", 302, "GET"),
        ("HEAD", 302, "HEAD"), ("POST", 303, "GET"), ("HEAD", 303, "HEAD"),
        ("POST", 307, "POST"), ("PUT", 308, "PUT"), ("GET", 302, "GET"),
    ],
)  # fmt: skip
def testredirect_method(method: str, status: int, then: str) -> None:
    assert redirect_method(method, status) == then


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("http://127.0.0.1:8000/other", True),
        ("http://127.0.0.1:8000", True),
        ("HTTP://127.0.0.1:8000/x", True),
        ("https://127.0.0.1:8000/x", False),
        ("http://127.0.0.1:8001/x", False),
        ("http://localhost:8000/x", False),
    ],
)
def testsame_origin(url: str, same: bool) -> None:
    assert same_origin(url, "http://127.0.0.1:8000") is same
    assert same_origin("http://Example.com:80/a", "http://example.com") is True


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:abc/x", "http://127.0.0.1:99999/x", "//[::1/x", "http://[::1/x"],
)
def test_a_location_that_is_no_url_is_not_followed_and_says_why(location: str) -> None:
    """A server's broken Location ends its request as a failure naming it, not the run
    (found by review: urllib's ValueError escaped from the response's callback)."""
    prepared = Prepared(RequestSpec(name="a"), "127.0.0.1:8000", "")
    plan = StepPlan(prepared, "127.0.0.1:8000", "")
    hop = next_hop("http://127.0.0.1:8000", "/", location, plan, 302, 0, 10)
    assert isinstance(hop, str)
    assert hop.startswith(f"redirect to {location!r}: not followed: ")
