"""The request target (path and query) a scenario's `path` is sent as, percent-encoded
exactly as httpx encodes it, so both engines put the same bytes on the wire (tested
against httpx.URL) without the fast engine importing httpx (~0.1 s of start-up).

The rules are the WHATWG URL standard's percent-encode sets, as httpx applies them:
an existing `%XX` escape is kept, anything else outside the set is UTF-8 percent-encoded;
a fragment (`#…`) is never sent.
"""

from __future__ import annotations

import re

_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_QUERY_SAFE = frozenset(
    _UNRESERVED + "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) not in ' "#<>')
)
"""The query percent-encode set's complement: printable ASCII but space " # < >."""
_PATH_SAFE = _QUERY_SAFE - frozenset("?`{}")
"""The path percent-encode set's complement: the query's, less ? ` { }."""
_ESCAPE = re.compile("%[A-Fa-f0-9]{2}")
_AS_IS = re.compile(
    f"[{re.escape(''.join(sorted(_PATH_SAFE)))}]+"
    f"(?:\\?[{re.escape(''.join(sorted(_QUERY_SAFE)))}]*)?\\Z"
)
"""A target that encodes to itself: one regex match instead of a look at every
character (a flow renders its path at every request)."""
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def request_target(path: str) -> str:
    """`path` (as written in a scenario: `/items?id=1`) as the request line's target.
    ValueError for a control character (which httpx refuses too)."""
    if _AS_IS.match(path):
        return path
    bad = _CONTROL.search(path)
    if bad is not None:
        raise ValueError(
            f"invalid non-printable ASCII character in URL, {bad.group(0)!r} "
            f"at position {bad.start()}"
        )
    path = path.partition("#")[0]
    path, has_query, query = path.partition("?")
    target = _quote(path, _PATH_SAFE) or "/"
    if has_query:
        target += "?" + _quote(query, _QUERY_SAFE)
    return target


def _quote(text: str, safe: frozenset[str]) -> str:
    parts, position = [], 0
    for match in _ESCAPE.finditer(text):
        parts.append(_encode(text[position : match.start()], safe))
        parts.append(match.group(0))
        position = match.end()
    parts.append(_encode(text[position:], safe))
    return "".join(parts)


def _encode(text: str, safe: frozenset[str]) -> str:
    return "".join(
        char if char in safe else "".join(f"%{b:02X}" for b in char.encode("utf-8"))
        for char in text
    )
