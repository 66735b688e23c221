"""What both engines refuse to read or to send: the bounds on a response, and the check
that a request can go out as HTTP/1.1 at all. Pure, no I/O.

A response's head is bounded (`MAX_HEAD`, as llhttp's and h11's defaults bound theirs):
past it the request fails as `protocol`. A body is counted and dropped unless a check
or a capture reads it; one that is kept is bounded by the engine's `max_body` (default
`MAX_BODY`), past which the request fails as `body_too_large`. So a hostile or broken
server (an endless header, an endless chunked body) costs perfrun constant memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from perfrun.scenario.model import MAX_BODY as SCENARIO_MAX_BODY

MAX_HEAD = 100 * 1024
"""Bytes of a response's head (status line, headers, and any interim responses before
it) read at most: a longer head fails the request as `protocol`. httpcore's bound for
h11 (100 KiB), so both engines draw the line at the same size. Both check it between
reads, not byte by byte: a head that arrives whole in one read may be longer (up to a
read, 64 KiB more on httpx, 256 KiB on the fast engine's transports)."""
MAX_BODY = SCENARIO_MAX_BODY
"""Default bytes of a response body kept (decoded) for a check or a capture at most: the
scenario's `max_body` default."""

_BAD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
"""A control character a header value cannot hold (RFC 9110 5.5: only HTAB is allowed):
CR and LF would inject headers, NUL is refused by servers and by h11."""
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
"""A header name (RFC 9110 5.1: a token)."""
_BAD_TARGET = re.compile("[\x00-\x1f\x7f]")


class InvalidRequest(ValueError):
    """A request that cannot be sent: its result is `invalid_request`. Never leaves the
    engine."""


def check_headers(headers: Iterable[tuple[str, str]]) -> None:
    """InvalidRequest when a header's name is no token or its value holds a control
    character (other than HTAB)."""
    for name, value in headers:
        if not _TOKEN.match(name):
            raise InvalidRequest(f"header name {name!r} is not a token: not sent")
        bad = _BAD_VALUE.search(value)
        if bad is not None:
            raise InvalidRequest(f"header {name} holds {bad.group(0)!r}: not sent")


def check_values(step: str, headers: Iterable[tuple[str, str]]) -> None:
    """InvalidRequest when a header value (rendered for `step`) holds a control
    character: the check every templated request pays, so values only (the names are
    the scenario's, checked once)."""
    for name, value in headers:
        bad = _BAD_VALUE.search(value)
        if bad is not None:
            raise InvalidRequest(f"{step}: header {name} rendered with {bad.group(0)!r}: not sent")


def check_target(path: str) -> None:
    """InvalidRequest when `path` (a request target, before percent-encoding) holds a
    control character, which neither engine can send."""
    bad = _BAD_TARGET.search(path)
    if bad is not None:
        raise InvalidRequest(f"path holds {bad.group(0)!r} at position {bad.start()}: not sent")


def invalid(path: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """Why a request with this path and these headers cannot be sent; None when it can.
    For what is checked once, when a request is prepared."""
    try:
        check_target(path)
        check_headers(headers)
    except InvalidRequest as exc:
        return str(exc)
    return None
