"""`--http-debug`: the first exchanges of a scenario, as sent and received, on stderr.

What the engines share: which exchanges are shown (`Tracer`: the first `limit` of each
scenario in each process, then one line saying the rest are not), how one is written
(`format_exchange`: one block, written at once, so exchanges never interleave within a
process) and what is hidden (`redact`: credentials and cookies, never their names).
Each engine feeds it from its own debug classes, chosen when the engine is built
(`perfrun.engine.fast_debug`, the httpx engine's traced session): with debug off, no
debug code is on a request's path.
"""

from __future__ import annotations

import os
import re
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass

BODY_LIMIT = 2048
"""Body bytes shown at most (with --http-debug-bodies); the rest is cut, and said so."""
HIDDEN = "***"
_SECRET_NAME = re.compile(r"token|secret|api[-_]?key|password", re.I)
"""A header (or query parameter) whose name says its value is a credential."""
_SECRET_QUERY = re.compile(
    r"([?&][^=&#\s]*(?:token|secret|api[-_]?key|password)[^=&#\s]*=)[^&#\s]*", re.I
)
_CREDENTIALS = frozenset(("authorization", "proxy-authorization"))


@dataclass(frozen=True)
class HttpDebug:
    """What `--http-debug=N` (and `--http-debug-bodies`) ask of one scenario's engine:
    plain data, so it pickles into worker processes with the engine's recipe."""

    limit: int
    """Exchanges shown, counted per scenario in each process (each worker shows its own)."""
    bodies: bool = False
    """Also the bodies, up to BODY_LIMIT bytes each."""
    scenario: str = ""
    """The scenario's name, which marks each exchange."""
    parent: int = 0
    """The id of the process that asked (0: none said): a tracer in another process (a
    worker) marks each exchange with its own process id."""


@dataclass(frozen=True)
class Message:
    """One side of an exchange: its head (start line and header lines, as sent or
    received, CRLF-separated) and what was kept of its body."""

    head: str
    body: bytes = b""
    """The body's first bytes (decoded when `coding` says so), when bodies are shown."""
    size: int = 0
    """The body's size in bytes, as sent or received (before any decoding)."""
    coding: str = ""
    """The Content-Encoding `body` was decoded from ("" when none)."""


def redact(name: str, value: str) -> str:
    """A header's value as --http-debug shows it: credentials and cookie values hidden
    (an Authorization's scheme and a cookie's name and attributes stay)."""
    lower = name.strip().lower()
    if lower in _CREDENTIALS:
        scheme, space, _ = value.strip().partition(" ")
        return f"{scheme} {HIDDEN}" if space else HIDDEN
    if lower == "cookie":
        pairs = (pair.strip().partition("=")[0] for pair in value.split(";") if pair.strip())
        return "; ".join(f"{pair}={HIDDEN}" for pair in pairs)
    if lower == "set-cookie":
        pair, semicolon, attributes = value.partition(";")
        return f"{pair.strip().partition('=')[0]}={HIDDEN}{semicolon}{attributes}"
    if _SECRET_NAME.search(lower):
        return HIDDEN
    return value


def redact_line(line: str) -> str:
    """A header line (`Name: value`) with its value redacted; other lines as they are."""
    name, colon, value = line.partition(":")
    if not colon or not name or name != name.strip():
        return line
    shown = redact(name, value.strip())
    return line if shown == value.strip() else f"{name}: {shown}"


def redact_target(start_line: str) -> str:
    """A request line with the values of its credential-like query parameters hidden."""
    return _SECRET_QUERY.sub(lambda m: m.group(1) + HIDDEN, start_line)


def decoded(body: bytes, coding: str) -> bytes | None:
    """The start of a gzip or deflate `body` (maybe cut short) decoded, at most
    BODY_LIMIT bytes; None when it is not that or does not decode."""
    if coding.strip().lower() not in ("gzip", "deflate"):
        return None
    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(body, BODY_LIMIT)
    except zlib.error:
        return None


def format_exchange(
    title: str, request: Message | None, response: Message | None, error: str, bodies: bool
) -> str:
    """One exchange as --http-debug prints it: a title line, the request's lines after
    `> `, the response's after `< `, a failure after `! `, and a blank line."""
    lines = [title]
    if request is None:
        lines.append("> (not sent)")
    else:
        lines += _message(request, ">", bodies, request=True)
    if response is not None:
        lines += _message(response, "<", bodies, request=False)
    if error:
        lines.append(f"! {error}")
    return "\n".join(lines) + "\n\n"


def _message(message: Message, mark: str, bodies: bool, *, request: bool) -> list[str]:
    """A message's lines after `mark`: its head (redacted), then its body or its size."""
    lines = [f"{mark} {line}" if line else mark for line in _head(message.head, request)]
    size = message.size
    if not size:
        return lines
    if not bodies:
        return [*lines, f"{mark} [{size} body bytes]"]
    body = message.body[:BODY_LIMIT]
    text = body.decode("utf-8", "backslashreplace")
    lines += [mark, *(f"{mark} {line}" for line in text.splitlines())]
    if message.coding:
        lines.append(
            f"{mark} [{len(body)} bytes shown, decoded from {size} {message.coding} bytes]"
        )
    elif len(body) < size:
        lines.append(f"{mark} [first {len(body)} of {size} body bytes shown]")
    return lines


def _head(head: str, request: bool) -> list[str]:
    """A head's lines, redacted: a request's line (its query), and the header lines."""
    lines = head.split("\r\n")
    while lines and not lines[-1]:
        lines.pop()
    shown = []
    for index, line in enumerate(lines):
        if index == 0 and request:
            shown.append(redact_target(line))
        elif line.startswith("HTTP/"):  # a response's status line (interim ones' too)
            shown.append(line)
        else:
            shown.append(redact_line(line))
    return shown


def _stderr(text: str) -> None:
    stream = sys.stderr  # looked up per write: a live display may have redirected it
    stream.write(text)
    stream.flush()


class Tracer:
    """Shows a scenario's first `limit` exchanges (one engine's: per scenario, in each
    process), then one line saying that further ones are not shown."""

    def __init__(self, debug: HttpDebug, write: Callable[[str], None] = _stderr) -> None:
        self.limit = debug.limit
        self.bodies = debug.bodies
        self.scenario = debug.scenario
        pid = os.getpid()
        self._process = f" [pid {pid}]" if debug.parent and debug.parent != pid else ""
        """Which worker shows the exchange (none in the process that asked)."""
        self._write = write
        self.begun = 0
        self.printed = 0
        self._told = False

    def begin(self) -> int | None:
        """The number of an exchange that begins now, or None when it is not shown."""
        self.begun += 1
        if self.begun <= self.limit:
            return self.begun
        self._tell()
        return None

    def show(
        self, number: int, endpoint: str, request: Message | None, response: Message | None,
        error: str = "",
    ) -> None:  # fmt: skip
        """Write exchange `number` of `endpoint`, in one write."""
        title = f"http-debug #{number} {self.scenario}/{redact_target(endpoint)}{self._process}"
        self._write(format_exchange(title, request, response, error, self.bodies))
        self.printed += 1
        self._tell()

    def _tell(self) -> None:
        """Once the shown exchanges are written and one more began: say so."""
        if not self._told and self.printed >= self.limit and self.begun > self.limit:
            self._told = True
            self._write(
                f"http-debug: further exchanges of {self.scenario} are not shown"
                f" (the first {self.limit} in this process{self._process} were)\n\n"
            )
