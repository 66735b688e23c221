"""The fast engine's redirect rules, as httpx's: which method a redirect continues with,
and which URLs count as the same origin. Pure."""

from __future__ import annotations

import pytest

from perfrun.engine.fast_flow import redirect_method, same_origin


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
