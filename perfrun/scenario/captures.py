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
import orjson


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
    take: Callable[[int, Mapping[str, str], bytes], str | None] = field(repr=False, compare=False)
    """`take(status, headers, body)`: the captured text, or None when the response does
    not have it. `headers` have lower-case names. (A field, not a method: one Python
    call less on a flow's hot path.)"""

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
    lookup = _lookup(compiled.parsed)
    search = lookup or compiled.search

    def exact(body: bytes) -> str | None:
        """The capture from the document as `json` reads it."""
        try:
            document = json_document(body)
        except (ValueError, RecursionError):
            return None
        try:
            found = search(document)
        except (jmespath.exceptions.JMESPathError, TypeError, ValueError):
            # length() of a number; jmespath's own TypeError on `[?id > `1`]` when an id
            # is a string: what the response does not have is not found.
            return None
        return _as_text(found)

    if lookup is None:
        return lambda status, headers, body: exact(body)

    def find(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
        """A lookup finds the same value in orjson's document as in json's unless the
        value is a float or holds one (orjson reads an integer past 64 bits as a
        float): no scan of the body for such integers first (`_document`), which on a
        body of some kilobytes would cost more than the parse."""
        try:
            found = lookup(orjson.loads(body))
        except orjson.JSONDecodeError:
            return exact(body)  # what json may read and orjson refuses
        kind = found.__class__
        if kind is str:
            return found  # type: ignore[no-any-return]
        if kind is int or kind is bool or found is None:
            return _as_text(found)
        return exact(body)

    return find


def json_document(body: bytes) -> Any:
    """A body's JSON document, as `json.loads` reads it; ValueError when it is none.
    orjson reads it first, ~4x faster on the flow's hot path; what orjson refuses and
    json reads (UTF-16 or -32, NaN, lone surrogates) json then reads, and json alone
    reads a body with an integer orjson would turn into a float (past 64 bits: any
    run of 19 digits), so the document is json's. One difference is left: json gives
    up (RecursionError) somewhat under the interpreter's recursion limit, which
    depends on the stack it is called from, where orjson reads up to 1,024 levels;
    a document nested between the two is read."""
    if _LONG_DIGITS.search(body) is None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


_LONG_DIGITS = re.compile(rb"\d{19}")


def _lookup(node: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """A JMESPath made only of fields and indexes (`token`, `items[0].id`: what most
    captures are) as a direct lookup, ~10x faster than jmespath's tree-walking search
    and with its results (a field of a non-object, or an index past the end or of a
    non-array, is null); None for any other expression, which jmespath then runs."""
    path = _path(node)
    if path is None:
        return None
    if len(path) == 1 and isinstance(path[0], str):  # `token`: the usual capture
        (name,) = path
        return lambda value: value.get(name) if value.__class__ is dict else None
    steps = tuple(path)

    def lookup(value: Any) -> Any:
        for step in steps:
            if isinstance(step, str):
                value = value.get(step) if isinstance(value, dict) else None
            elif isinstance(value, list) and -len(value) <= step < len(value):
                value = value[step]
            else:
                return None
        return value

    return lookup


def _path(node: Mapping[str, Any]) -> list[str | int] | None:
    """The fields (str) and indexes (int) a parsed JMESPath walks, in order; None if it
    does anything else."""
    kind = node["type"]
    if kind == "field":
        return [node["value"]]
    if kind == "index":
        return [node["value"]]
    if kind in ("subexpression", "index_expression"):
        path: list[str | int] = []
        for child in node["children"]:
            part = _path(child)
            if part is None:
                return None
            path += part
        return path
    return None


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
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    return json.dumps(value, separators=(",", ":"))
