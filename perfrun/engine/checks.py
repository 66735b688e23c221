"""Response checks (`expect_body_contains`, `expect_json`, `expect_header`). Pure, no I/O.

`failed_checks` runs for every response whose status was expected, so it returns at
once when a request has no checks, parses the body as JSON only when a JSON check
needs it, and builds a check's name only when that check fails.

A check's name says what was expected (`health: json status == 'ok'`); it is the key
failures are counted under, so `check_names` and `failed_checks` build it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from perfrun.metrics.result import ErrorKind, RequestResult, status_error
from perfrun.scenario.captures import json_document
from perfrun.scenario.model import Checks, RequestSpec

_MISSING = object()
"""What a JSON path that leads nowhere (or a body that is not JSON) yields."""


class Judge:
    """What an endpoint's response must be, and the record of a request that got one:
    both engines judge here, so an unexpected status or a failed check means the same
    whichever engine ran. Built once per endpoint; `judge` runs for every response."""

    __slots__ = ("checks", "expected", "name", "request_line")

    def __init__(self, spec: RequestSpec, request_line: str) -> None:
        self.name = spec.name
        self.expected = frozenset(spec.expect_status)
        self.checks: Checks | None = spec.checks if spec.checks else None
        """None when the request has none: the common case returns without a look."""
        self.request_line = request_line

    def judge(
        self,
        started: float,
        latency: float,
        queued: float,
        status: int,
        size: int,
        headers: Mapping[str, str],
        body: Callable[[], bytes],
    ) -> RequestResult:
        """The record of the request; `body` is read only when a check needs it."""
        failures = self.failures(status, headers, body)
        return self.result(started, latency, queued, status, size, failures)

    def failures(
        self, status: int, headers: Mapping[str, str], body: Callable[[], bytes]
    ) -> tuple[str, ...] | None:
        """The checks a response fails, () when it passes them all; None when its status
        was not expected (no check then runs). `body` is read only when a check needs it.
        A response with () is a success: the fast engine records it as such without a
        RequestResult (see `result`)."""
        if status not in self.expected:
            return None
        if self.checks is None:
            return ()
        return failed_checks(self.checks, self.name, headers, body())

    def result(
        self, started: float, latency: float, queued: float, status: int, size: int,
        failures: tuple[str, ...] | None,
    ) -> RequestResult:  # fmt: skip
        """The record of a request whose response got `failures` (see `failures`)."""
        if failures is None:
            detail = f"HTTP {status} {self.request_line}"
            return RequestResult(
                self.name, started, latency, status, size, status_error(status), detail, queued
            )
        if failures:
            return RequestResult(
                self.name, started, latency, status, size,
                ErrorKind.CHECK_FAILED, failures[0], queued, failures,
            )  # fmt: skip
        return RequestResult(self.name, started, latency, status, size, None, "", queued)


def check_names(spec: RequestSpec) -> tuple[str, ...]:
    """The names of every check of a request, in the order `failed_checks` reports them:
    body checks, then JSON checks, then header checks, each in the order written."""
    checks, name = spec.checks, spec.name
    return (
        *(_body_name(name, text) for text in checks.body_contains),
        *(_json_name(name, path, expected) for path, expected in checks.json.items()),
        *(_header_name(name, header, expected) for header, expected in checks.headers.items()),
    )


def failed_checks(
    checks: Checks, name: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, ...]:
    """The names of the checks a response fails, in `check_names` order; () if none fails.

    `name` is the request's name. `headers` may be any mapping: lookups are
    case-insensitive either way (an `httpx.Headers` or a dict with lower-case keys is
    looked up directly; other keys are compared lower-cased only on a miss). A header
    sent more than once is checked against the mapping's value for it (httpx joins the
    values with ", "). A body that is not valid JSON fails every JSON check; a path
    walks object keys and list indexes (`items.0.id`), and one that leads nowhere fails.
    """
    if not checks:
        return ()
    failed: list[str] = []
    for text in checks.body_contains:
        if text.encode() not in body:
            failed.append(_body_name(name, text))
    if checks.json:
        document = _parse_json(body)
        for path, expected in checks.json.items():
            found = _MISSING if document is _MISSING else _lookup(document, path)
            if found is _MISSING or found != expected:
                failed.append(_json_name(name, path, expected))
    for header, expected in checks.headers.items():
        actual = _header(headers, header)
        if actual is None or (expected is not None and actual != expected):
            failed.append(_header_name(name, header, expected))
    return tuple(failed)


def _parse_json(body: bytes) -> Any:
    try:
        return json_document(body)  # json's document, read by orjson when it can (~4x)
    except (ValueError, RecursionError):  # not JSON, not UTF-8/16/32, or absurdly nested
        return _MISSING


def _lookup(document: Any, path: str) -> Any:
    node = document
    for key in path.split("."):
        if isinstance(node, dict):
            node = node.get(key, _MISSING)
            if node is _MISSING:
                return _MISSING
        elif isinstance(node, list) and key.isascii() and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, item in headers.items():
        if key.lower() == name:
            return item
    return None


def _body_name(name: str, text: str) -> str:
    return f"{name}: body contains {text!r}"


def _json_name(name: str, path: str, expected: Any) -> str:
    return f"{name}: json {path} == {expected!r}"


def _header_name(name: str, header: str, expected: str | None) -> str:
    if expected is None:
        return f"{name}: header {header} present"
    return f"{name}: header {header} == {expected!r}"
