"""Captures: what a flow step takes from its response for the steps after it.

    capture:
      token: {json: token}            # JMESPath into the JSON body
      item:  {json: "items[0].id"}
      next:  {header: Location}       # a response header (case-insensitive)
      id:    {regex: "id=(\\d+)"}     # group 1 of the first match in the body
      code:  {status: true}           # the status code

Expressions are compiled when the scenario loads (a JMESPath that does not parse, or a
regex without a group, stops the run there); `take` applies one to a response and
returns the text, or None when it finds nothing (the request then fails with
`capture_failed`).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.exceptions


class CaptureError(ValueError):
    """A capture that cannot be compiled; the message says why."""


class Source(enum.StrEnum):
    JSON = "json"
    HEADER = "header"
    REGEX = "regex"
    STATUS = "status"


@dataclass(frozen=True)
class Capture:
    """One capture: the variable it sets, where it looks, and the expression as written."""

    name: str
    source: Source
    expression: str
    _find: Callable[[int, Mapping[str, str], bytes], str | None] = field(repr=False, compare=False)

    @property
    def needs_body(self) -> bool:
        return self.source in (Source.JSON, Source.REGEX)

    @property
    def needs_headers(self) -> bool:
        return self.source is Source.HEADER

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what it was compiled from (it holds a function)."""
        expression: Any = True if self.source is Source.STATUS else self.expression
        return compile_capture, (self.name, self.source.value, expression)

    def take(self, status: int, headers: Mapping[str, str], body: bytes) -> str | None:
        """The captured text, or None when the response does not have it. `headers`
        have lower-case names."""
        return self._find(status, headers, body)


def compile_capture(name: str, source: str, expression: Any) -> Capture:
    """A capture of `source` ("json", "header", "regex", "status") with `expression`."""
    try:
        kind = Source(source)
    except ValueError:
        raise CaptureError(
            f"unknown capture source {source!r}; use one of json, header, regex, status"
        ) from None
    if kind is Source.STATUS:
        if expression is not True:
            raise CaptureError("a status capture is written {status: true}")
        return Capture(name, kind, "", lambda status, headers, body: str(status))
    if not isinstance(expression, str) or not expression.strip():
        raise CaptureError(f"a {kind} capture needs a non-empty expression")
    if kind is Source.JSON:
        return Capture(name, kind, expression, _json(expression))
    if kind is Source.HEADER:
        header = expression.strip().lower()
        return Capture(name, kind, expression, lambda status, headers, body: headers.get(header))
    return Capture(name, kind, expression, _regex(expression))


def _json(expression: str) -> Callable[[int, Mapping[str, str], bytes], str | None]:
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise CaptureError(f"JMESPath {expression!r} does not parse: {exc}") from None

    def find(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return None
        try:
            found = compiled.search(document)
        except jmespath.exceptions.JMESPathError:  # e.g. length() of a number: not found
            return None
        return _as_text(found)

    return find


def _regex(expression: str) -> Callable[[int, Mapping[str, str], bytes], str | None]:
    try:
        pattern = re.compile(expression)
    except re.error as exc:
        raise CaptureError(f"regex {expression!r} does not compile: {exc}") from None
    if pattern.groups < 1:
        raise CaptureError(f"regex {expression!r} has no group: group 1 is what is captured")

    def find(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
        match = pattern.search(body.decode("utf-8", "replace"))
        return match.group(1) if match is not None and match.group(1) is not None else None

    return find


def _as_text(value: Any) -> str | None:
    """A JSON value as the text a template substitutes: strings as they are, numbers
    and booleans as JSON writes them, objects and arrays as JSON; null: nothing found."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
