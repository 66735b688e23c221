"""The fast engine's wire: HTTP/1.1 keep-alive on asyncio protocols, parsed by httptools.

A `Connection` is an asyncio protocol that sends one request at a time and calls its
owner back when the response is complete or the request failed: no future, no task per
request. A `Requester` is such an owner: one connection's request cycle (open it when
needed, write a prepared request, judge the response into a `RequestResult`), whose
`done` decides what comes next: resolve an awaited future (`FastSession.send`), or write
the next request straight from the callback (the fast executors).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import select
import ssl
import time
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import httptools
from mypy_extensions import mypyc_attr

from perfrun import __version__
from perfrun.engine.checks import Judge
from perfrun.engine.exhausted import exhausted
from perfrun.engine.limits import MAX_BODY, MAX_HEAD, InvalidRequest, check_headers, invalid
from perfrun.engine.target import request_target
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.scenario.model import RequestSpec

if TYPE_CHECKING:  # fast_dial imports this module
    from perfrun.engine.fast_dial import Dialer

_WATCHED_LENGTHS: Final = frozenset(
    (len(b"content-encoding"), len(b"set-cookie"), len(b"location"))
)
_COOKIES_AND_REDIRECTS: Final = frozenset((b"set-cookie", b"location"))
"""What a `WatchingConnection` keeps of every response."""
_FRAMING: Final = re.compile(
    rb"\r\n(content-length[ \t]*:|transfer-encoding[ \t]*:[^\r\n]*chunked)", re.I
)
"""A header that frames a body (see Connection._framed)."""
_INTERIM: Final = re.compile(rb"HTTP/\d\.\d 1\d\d\b")
"""The status line of an interim (1xx) response."""
UNUSED_LEARNS: Final = 8
RELEARN_EVERY: Final = 64
"""See `Connection._learn`."""
_SHORT: Final = 1024
"""Bytes of a response's first read searched whole for the headers watched (see
`WatchingConnection.on_headers_complete`)."""
WATCH_INTERVAL: Final = 0.05
"""Seconds between sweeps for timed-out requests: timeouts fire up to this late."""
_clock: Final = time.perf_counter
"""`time.perf_counter`, read once: compiled (setup.py), a module attribute or an
imported name costs a dict lookup per call, a `Final` name none (the same for every
`Final` constant of the compiled modules)."""


class Response:
    """The headers and body of a response, kept only when a check or a capture needs
    them (see `FullConnection`)."""

    __slots__ = ("body", "headers", "set_cookies")

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.body: bytes | bytearray = b""
        """The first part as it came (no copy: most bodies come in one), then one buffer
        grown in place: a list of the reads' parts would leave the heap fragmented after
        a body of megabytes (glibc keeps the freed parts)."""
        self.set_cookies: list[str] = []
        """Every Set-Cookie value on its own (joined in `headers`, they cannot be parsed)."""

    def add(self, part: bytes) -> None:
        """Keep a part of the body."""
        body = self.body
        if not body:
            self.body = part
        elif isinstance(body, bytes):
            self.body = bytearray(body) + part
        else:
            body += part

    def content(self) -> bytes:
        """The (decoded) body."""
        body = self.body
        return body if isinstance(body, bytes) else bytes(body)


_NO_RESPONSE: Final = Response()
"""What a connection that keeps nothing offers as its response: always empty."""


class Failure(Exception):
    """A connect failed; carries the error kind. Never leaves the engine."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class Owner(Protocol):
    """Who a connection tells how its request ended."""

    def on_response(self, conn: Connection) -> None: ...

    def on_failure(self, kind: ErrorKind, detail: str) -> None: ...


@mypyc_attr(allow_interpreted_subclasses=True)  # fast_debug's Traced
class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: send a request, call its owner back when it ends.

    The owner reads the response off the connection (`status`, `size`, `response`) in
    its callback. This class parses no header at all: httptools calls a Python method
    for every header of every response, which costs as much as parsing the response, so
    what a header decides comes from llhttp itself (keep-alive, the body's framing). A
    response with a header to keep or a body to decode needs `FullConnection`.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = _parser(self)
        self._owner: Owner | None = None
        """Whose request is pending; None when idle."""
        self._poll = select.poll()
        self.deadline = math.inf
        """perf_counter time by which the response must be complete (see the watchdog)."""
        self.status = 0
        """The final response's status once its head is parsed, else 0."""
        self.size = 0
        """Body bytes received (as sent: before any decoding)."""
        self.first_byte = 0.0
        """perf_counter time the first byte of the pending request's response came in
        (0 until then): its time to first byte. An interim 1xx response's byte counts,
        as in k6."""
        self.response = _NO_RESPONSE
        self._is_head = False
        self._interim = False
        self._last = b""
        """The bytes received last: where a response without keep-alive says how its
        body ends, read while its head completes (see `_framed`)."""
        self._delimited = True
        """The body has a Content-Length or is chunked (else it ends with the connection).
        Only a response without keep-alive can be undelimited, and its connection is not
        reused, so this is never reset."""
        self.reusable = True
        self.answering = False
        """Inside the callback of a response that just completed: the connection has not
        been idle, so there is no keep-alive close to look for (see `peer_closed`)."""
        self._head_of = 0.0
        """The `first_byte` of the response whose head came over several reads (see
        `_head_grows`): `_spanned` holds its bytes so far."""
        self._spanned = bytearray()
        self._decoded = 0
        """Decoded body bytes kept so far, of a compressed body kept (see `_kept_body`)."""
        self._decoder: Any = None
        """A compressed body's decoder, in the classes that keep bodies."""
        self._known = b""
        """The head of the last response llhttp parsed that came whole in one read, was
        framed by its Content-Length, left the connection open, and said nothing this
        connection reads (see `_plain_head`): a response whose read is this head and
        `_known_size` bytes in all is that response again (see `data_received`)."""
        self._known_size = -1
        self._known_status = 0
        self._unused = 0
        """Heads learned in a row that no response repeated (see `_learn`)."""
        self._one_read = False
        """The response's bytes so far came in one read (its first)."""
        self._may_skip = False
        """The pending request may take a known response without llhttp: not HEAD, no
        body to keep."""
        self._plain_head = True
        """The response's head says nothing this connection reads beyond its status and
        its framing (always so here; a subclass that reads headers says per response)."""

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._poll.register(transport.get_extra_info("socket").fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        if not self.first_byte:
            self.first_byte = _clock()
            if len(data) == self._known_size and self._may_skip and data.startswith(self._known):
                # The known head to the byte, and its Content-Length of body after it: what
                # llhttp said of that head it would say again (servers repeat their heads
                # between changes of Date), so it is not asked.
                self.status = self._known_status
                self.size = len(data) - len(self._known)
                self._unused = 0
                self._complete()
                return
            self._one_read = True
        else:
            self._one_read = False
            if not self.status and self._head_grows(data):
                return
        self._last = data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ErrorKind.PROTOCOL, "unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            self._fail(ErrorKind.PROTOCOL, f"invalid HTTP response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._owner is None:
            return
        if self.status and not self._delimited and exc is None:
            self._complete()  # a body without length ends with the connection (not a reset)
        else:
            self._fail(ErrorKind.RESET, "server closed the connection before the response ended")

    # --- httptools callbacks

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            # An interim response (103 Early Hints, 100 Continue): the final one follows.
            self._interim = True
            self._start_response()
            return
        self.status = status
        if not parser.should_keep_alive():
            # llhttp keeps a connection alive only when the body is framed, so only here
            # can a body run until the connection closes.
            self.reusable = False
            self._delimited = self._framed()
        if self._is_head:
            # No body follows a HEAD response, but llhttp cannot be told so: it would wait
            # for Content-Length bytes. Complete now and parse the next one afresh.
            self._parser = _parser(self)
            self._complete()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._one_read and self._may_skip and self._plain_head and self.reusable:
            self._learn(self._last)
        owner = self._owner  # _complete(), inlined: once per request
        if owner is not None:
            self._owner = None
            self.deadline = math.inf
            self.answering = True
            owner.on_response(self)
            self.answering = False

    def _learn(self, data: bytes) -> None:
        """Keep the head of the response llhttp just completed, whose bytes `data` are,
        when they are its head and its body only: then the body was framed by a
        Content-Length (a chunked body's bytes are more than its size), and no interim
        response came first (its head would be where the head is looked for).

        A server that stamps every response (a request id) never repeats a head: after
        UNUSED_LEARNS heads learned in vain, one response in RELEARN_EVERY is learned,
        so such a server costs the find and the copy of a head ~never."""
        unused = self._unused + 1
        self._unused = unused
        if unused > UNUSED_LEARNS and unused % RELEARN_EVERY:
            return
        end = data.find(b"\r\n\r\n") + 4
        if end >= 4 and end + self.size == len(data):
            self._known = data[:end]
            self._known_size = len(data)
            self._known_status = self.status

    def _framed(self) -> bool:
        """Whether the final response has a Content-Length or a chunked body, read from
        the bytes whose parsing completed its head (past any interim responses' heads).
        A head that came over several reads is read from all of them (see `_head_grows`)."""
        last = self._spanned if self._head_of == self.first_byte else self._last
        start, end = _final_head(last)
        return not last.startswith(b"HTTP/", start) or _FRAMING.search(last, start, end) is not None

    def _start_response(self) -> None:
        self.size = 0

    def _head_grows(self, data: bytes) -> bool:
        """A later read while the head is not complete (rare: a response's first read
        holds its whole head): keep it, with the reads before it, and fail the request
        as `protocol` (True) once the head is past MAX_HEAD. Nothing is counted for a
        head that comes in one read, so the hot path pays nothing for this bound (a
        first read is at most the transport's buffer, 256 KiB)."""
        second = self._head_of != self.first_byte  # this response's second read
        size = (len(self._last) if second else len(self._spanned)) + len(data)
        if size > MAX_HEAD:  # checked before anything is copied: a flood costs nothing
            self._spanned = bytearray()
            self._fail(ErrorKind.PROTOCOL, f"response head over {MAX_HEAD} bytes")
            return True
        if second:
            self._head_of = self.first_byte
            self._spanned = bytearray(self._last)
        self._spanned += data  # for `_framed` (it stays until the next such head: rare)
        return False

    def _kept_body(self, body: bytes, keep: int) -> bool:
        """Keep a part of the body (decoded when it is compressed, its `_decoder`); True
        when the body kept would go past `keep` bytes (then nothing of it is kept)."""
        decoder = self._decoder
        if decoder is None:
            if self.size > keep:  # the wire's bytes are those kept
                return True
            self.response.add(body)
            return False
        # Decoded at most one byte past what is left: a small compressed body can
        # decode to gigabytes.
        room = keep - self._decoded
        part = decoder.decompress(body, room + 1)
        if len(part) > room:
            return True
        self._decoded += len(part)
        self.response.add(part)
        return False

    def _too_large(self, limit: int) -> None:
        """The body kept for a check or a capture went past `limit` bytes: fail the
        request, close the connection, and keep nothing more of what is still parsed."""
        self.response = _NO_RESPONSE
        self._fail(ErrorKind.BODY_TOO_LARGE, f"response body over max_body ({limit} bytes)")

    # --- used by the owner

    def request(
        self, payload: bytes, owner: Owner, deadline: float, head: bool,
        keep_headers: bool, keep_body: int,
    ) -> None:  # fmt: skip
        """Write a request; `owner` hears how it ends, exactly once. Only a FullConnection
        keeps the response's headers or body when asked to: `keep_body` is the most body
        bytes kept (0: none), past which the request fails as `body_too_large`."""
        self._owner = owner
        self.deadline = deadline
        self.status = 0
        self.size = 0
        self.first_byte = 0.0
        self._is_head = head
        self._may_skip = not head and not keep_body
        self.transport.write(payload)  # type: ignore[union-attr]  # set before any request

    def peer_closed(self) -> bool:
        """The idle connection has something to read: the server's FIN (or garbage) that
        the loop has not processed yet. httpcore checks the same before reusing one."""
        return bool(self._poll.poll(0))

    def expire(self, now: float) -> None:
        """Fail the pending request if its deadline has passed (called by the watchdog)."""
        if now > self.deadline and self._owner is not None:
            self._fail(ErrorKind.TIMEOUT, "no complete response within the timeout")

    def close(self) -> None:
        """Close the connection; a pending request's owner hears nothing more."""
        self.closed = True
        self._owner = None
        if self.transport is not None:
            self.transport.close()

    def _complete(self) -> None:
        owner = self._owner
        if owner is not None:
            # Idle first: the owner may write its next request from inside the callback.
            self._owner = None
            self.deadline = math.inf
            self.answering = True
            owner.on_response(self)
            self.answering = False

    def _fail(self, kind: ErrorKind, detail: str) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()
        owner = self._owner
        if owner is not None:
            self._owner = None
            self.deadline = math.inf
            owner.on_failure(kind, detail)


@mypyc_attr(allow_interpreted_subclasses=True)
class FullConnection(Connection):
    """A connection that also keeps the headers and the (decoded) body of a response
    whose request asks for them: for checks and captures. Its headers callback costs
    ~0.1 µs per header, so the engine uses it only when some request needs it."""

    watch = False
    """Keep every response's Set-Cookie and Location headers, also when its request
    keeps no header: for cookies and redirects (see `WatchingFullConnection`)."""

    def __init__(self) -> None:
        super().__init__()
        self._keep_headers = False
        self._keep_body = 0
        """The most body bytes to keep (0: none are kept)."""
        self._decoder: Any = None
        self._plain_head = False  # its headers are read: every response is parsed

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.status:
            return  # a chunked trailer: not a header (httpx drops them too)
        if len(name) in _WATCHED_LENGTHS:
            self._watched(name.lower(), value)
        if self._keep_headers:
            key = name.lower().decode("latin-1")
            text = value.decode("latin-1")
            response = self.response
            headers = response.headers
            known = headers.get(key)
            headers[key] = text if known is None else f"{known}, {text}"
            if key == "set-cookie":
                response.set_cookies.append(text)

    def _watched(self, lower: bytes, value: bytes) -> None:
        """A header whose name's length is one of those watched."""
        if lower == b"content-encoding":
            if self._keep_body and value.strip().lower() in (b"gzip", b"deflate"):
                # Decoded only for body checks: bytes_received counts the wire's bytes.
                self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif self.watch and not self._keep_headers and lower in _COOKIES_AND_REDIRECTS:
            response = self.response
            if response is _NO_RESPONSE:  # made only when needed: most responses
                response = self.response = Response()  # have neither header
            if lower == b"set-cookie":
                response.set_cookies.append(value.decode("latin-1"))
            else:
                response.headers.setdefault("location", value.decode("latin-1"))

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        keep = self._keep_body
        if keep and self._kept_body(body, keep):
            self._keep_body = 0
            self._too_large(keep)

    def _start_response(self) -> None:
        super()._start_response()
        keeps = self._keep_headers or self._keep_body
        self.response = Response() if keeps else _NO_RESPONSE
        self._decoder = None
        self._decoded = 0

    def request(
        self, payload: bytes, owner: Owner, deadline: float, head: bool,
        keep_headers: bool, keep_body: int,
    ) -> None:  # fmt: skip
        self._keep_headers, self._keep_body = keep_headers, keep_body
        self.response = Response() if keep_headers or keep_body else _NO_RESPONSE
        self._decoder = None
        self._decoded = 0
        Connection.request(self, payload, owner, deadline, head, keep_headers, keep_body)


@mypyc_attr(allow_interpreted_subclasses=True)
class WatchingFullConnection(FullConnection):
    """A FullConnection for users that keep cookies or follow redirects."""

    watch = True


@mypyc_attr(allow_interpreted_subclasses=True)
class WatchingConnection(Connection):
    """A lean connection for users that keep cookies or follow redirects, and for
    captures from bodies: it parses no header either (a Python call per header costs a
    fifth of a request's CPU) but keeps the bytes of each response's head, and when
    they hold a Set-Cookie, Location or Content-Encoding header (rare: a login, a
    redirect, a compressed body) reads those with httptools from the head. It keeps
    the (decoded) body when the request asks; all headers need `WatchingFullConnection`."""

    def __init__(self) -> None:
        super().__init__()
        self._keep_body = 0
        """The most body bytes to keep (0: none are kept)."""
        self._decoder: Any = None

    def on_headers_complete(self) -> None:
        if self._parser.get_status_code() >= 200:
            # The head's bytes, as `Connection` keeps them for `_framed`: no copy of a
            # head that came in one read (nearly all), so watching costs one search. A
            # head found plain is learned (see `Connection._known`): the same head again
            # is neither parsed nor searched.
            head = self._spanned if self._head_of == self.first_byte else self._last
            keep_body = self._keep_body
            watched = _WATCHED_AND_ENCODING if keep_body else _WATCHED
            # Searched in the head only: the regex tries every line of a body, ~50 µs
            # for 64 kB. Finding the head's end costs as much as the search of a short
            # response, whose body is searched with its head (a match there is harmless:
            # `_read_head` reads the head only).
            if len(head) > _SHORT:
                found = watched.search(head, *_final_head(head))
            else:
                found = watched.search(head)
            self._plain_head = found is None and not keep_body
            if found is not None:
                response = self.response if self.response is not _NO_RESPONSE else Response()
                encoding = _read_head(head, response)
                self.response = response
                if self._keep_body and encoding in (b"gzip", b"deflate"):
                    self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        Connection.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        keep = self._keep_body
        if keep and self._kept_body(body, keep):
            self._keep_body = 0
            self._too_large(keep)

    def request(
        self, payload: bytes, owner: Owner, deadline: float, head: bool,
        keep_headers: bool, keep_body: int,
    ) -> None:  # fmt: skip
        self._keep_body = keep_body
        self.response = Response() if keep_body else _NO_RESPONSE
        self._decoder = None
        self._decoded = 0
        Connection.request(self, payload, owner, deadline, head, keep_headers, keep_body)


@mypyc_attr(allow_interpreted_subclasses=True)
class RedirectWatchingConnection(WatchingConnection):
    """A WatchingConnection for requests on their own (the open model), whose cookies
    matter only along a redirect chain: only a redirect's head is read (its Location
    and Set-Cookie), and a head whose body is kept (for its Content-Encoding). Other
    responses cost what they cost on a `Connection`."""

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200 or 300 <= status < 400 or self._keep_body:  # 1xx: the head goes on
            WatchingConnection.on_headers_complete(self)
        else:
            self._plain_head = True
            Connection.on_headers_complete(self)


_WATCHED = re.compile(rb"\n(?:set-cookie|location):", re.I)
_WATCHED_AND_ENCODING = re.compile(rb"\n(?:set-cookie|location|content-encoding):", re.I)


def _final_head(data: bytes | bytearray) -> tuple[int, int]:
    """Where the final response's head is in `data`, a response's bytes from its first
    (maybe followed by body bytes): past any interim (1xx) response's head, up to its
    blank line (its last CRLF included). The whole rest when that is not there."""
    start = 0
    while True:
        end = data.find(b"\r\n\r\n", start)
        if end < 0:
            return start, len(data)
        if data[start + 9 : start + 10] != b"1" or not _INTERIM.match(data, start):
            return start, end + 2
        start = end + 4


def _read_head(head: bytes | bytearray, response: Response) -> bytes | None:
    """Into `response`: the Set-Cookie and Location headers of the final response whose
    head (after any interim responses' heads, maybe followed by body bytes) `head`
    holds. Returns its Content-Encoding (lower case), if any."""
    reader = _HeadReader()
    parser = _parser(reader)  # it reads heads only
    reader.parser = parser
    with contextlib.suppress(httptools.HttpParserError, httptools.HttpParserUpgrade):
        parser.feed_data(head)  # what follows the head is not read
    response.set_cookies[:] = reader.set_cookies
    if reader.location is not None:
        response.headers.setdefault("location", reader.location)
    return reader.encoding


class _HeadReader:
    """What `_read_head` takes from a head, from httptools' callbacks; an interim
    response's headers are dropped when its head ends."""

    def __init__(self) -> None:
        self.parser: Any = None
        self.done = False
        self.set_cookies: list[str] = []
        self.location: str | None = None
        self.encoding: bytes | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.done:
            return
        lower = name.lower()
        if lower == b"set-cookie":
            self.set_cookies.append(value.decode("latin-1"))
        elif lower == b"location" and self.location is None:
            self.location = value.decode("latin-1")
        elif lower == b"content-encoding":
            self.encoding = value.strip().lower()

    def on_headers_complete(self) -> None:
        if self.parser.get_status_code() >= 200:
            self.done = True
        else:  # an interim response's: not the final one's
            self.set_cookies, self.location, self.encoding = [], None, None


def _parser(protocol: object) -> Any:
    parser = httptools.HttpResponseParser(protocol)
    # Transfer-Encoding overrides Content-Length (RFC 9112 6.3), as in httpx.
    parser.set_dangerous_leniencies(lenient_chunked_length=True)
    return parser


# Compiled, copied (copy.copy) with its attributes. mypyc (2.4) leaves a serializable
# class's __init__ uncalled when built from interpreted code unless it also allows
# interpreted subclasses (its tp_init is then the one that calls it).
@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Prepared:
    """An endpoint's request, serialised once, and how its response is judged.

    `passes`: for a plain request (no check reads the response, nothing is taken from
    it, the connection stays open) the expected statuses, whose response is a success
    recorded without judging further (the hot path); empty otherwise. `endpoint` is
    where a load model records this request's results (see `bound`).

    A request that `reads` its response (a flow step's, see `for_user`) hands it to its
    requester's `keep` before it is judged. Flows on the fast engine's callbacks build
    their bytes from a `perfrun.engine.fast_flow.StepPlan` instead.
    """

    def __init__(
        self, spec: RequestSpec, host_header: str, prefix: str, max_body: int = MAX_BODY
    ) -> None:
        self.name = spec.name
        self.judge = Judge(spec, f"{spec.method} {spec.path}")
        self.expected = self.judge.expected
        self.head = spec.method == "HEAD"
        self.max_body = max_body
        reads_body = (
            spec.checks.body_contains
            or spec.checks.json
            or any(c.needs_body for c in spec.captures)
        )
        self.keep_body = max_body if reads_body else 0
        """The most bytes of the response body kept, for a check or a capture (0: the
        body is only counted)."""
        self.invalid = invalid(spec.path, spec.headers.items())
        """Why the request cannot be sent, as the scenario has it (None: it can).
        Defence in depth: the loader refuses such a request."""
        self.keep_headers = bool(spec.checks.headers or any(c.needs_headers for c in spec.captures))
        self.reads = bool(spec.captures)
        self.endpoint: Any = None
        self._spec = spec
        self._host_header = host_header
        self._prefix = prefix
        body = b""
        if spec.json is not None:
            body = json.dumps(spec.json).encode()
        elif spec.body is not None:
            body = spec.body.encode()
        self._body = body
        self.payload, self.close = b"", False  # never sent when invalid
        if self.invalid is None:
            self.payload, self.close = self._serialise(spec.path, spec.headers, body)
        plain = not spec.checks and not self.reads and not self.close
        self.passes = self.expected if plain else frozenset()

    def _serialise(
        self, path: str, headers: Mapping[str, str], body: bytes, prefixed: bool = True
    ) -> tuple[bytes, bool]:
        """The request's bytes, and whether it asks the server to close the connection;
        `path` is under the base URL's prefix, or (not `prefixed`) from the origin."""
        spec = self._spec
        merged = request_headers(spec, self._host_header, headers)
        if body or spec.method in ("POST", "PUT", "PATCH"):
            merged["content-length"] = ("Content-Length", str(len(body)))
        close = merged.get("connection", ("", ""))[1].strip().lower() == "close"
        prefix = self._prefix if prefixed else ""
        lines = [f"{spec.method} {prefix}{request_target(path)} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in merged.values()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body, close

    def for_user(
        self, target: str, headers: Mapping[str, str], body: bytes | None,
        keep_headers: bool,
    ) -> Prepared:  # fmt: skip
        """A copy for one user's flow step (or a redirect of it): sent to `target` (from
        the origin: the base URL's path prefix included), with `headers` added and
        `body`; its response handed back (see `read`), with its headers when
        `keep_headers` (e.g. for cookies and redirects). InvalidRequest (a ValueError)
        or UnicodeError when HTTP/1.1 cannot carry the target or a header value."""
        if self.invalid is not None:
            raise InvalidRequest(self.invalid)
        twin = copy.copy(self)
        spec = self._spec
        if headers or target != self._prefix + spec.path or (body or b"") != self._body:
            check_headers(headers.items())
            merged = {**spec.headers, **headers}
            twin.payload, twin.close = self._serialise(target, merged, body or b"", False)
        twin.reads = True
        twin.passes = frozenset()
        twin.keep_headers = self.keep_headers or keep_headers
        return twin

    @property
    def spec(self) -> RequestSpec:
        return self._spec

    @property
    def body(self) -> bytes:
        """The static body (b"" when none)."""
        return self._body

    def bound(self, endpoint: Any) -> Prepared:
        """A copy that records into `endpoint` (a run's handle for this request's
        figures, e.g. ScenarioStats.endpoint(name))."""
        twin = copy.copy(self)
        twin.endpoint = endpoint
        return twin


def request_headers(
    spec: RequestSpec, host_header: str, headers: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """A request's headers by lower-case name: perfrun's defaults (Host, User-Agent,
    Accept, Accept-Encoding, Content-Type for a JSON body), then `headers` over them."""
    defaults = {
        "Host": host_header,
        "User-Agent": f"perfrun/{__version__}",
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
    }
    if spec.json is not None:
        defaults["Content-Type"] = "application/json"
    merged = {k.lower(): (k, v) for k, v in defaults.items()}
    merged.update({k.lower(): (k, v) for k, v in headers.items()})
    return merged


def classify_os_error(exc: OSError | ValueError) -> tuple[ErrorKind, str]:
    """The one place the fast engine maps connect errors to error kinds (errors on an
    open connection arrive through connection_lost as resets)."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.CONNECT_REFUSED, detail
    if (own := exhausted(exc)) is not None:
        return ErrorKind.OTHER, own
    if isinstance(exc, ssl.SSLError):
        return ErrorKind.TLS, detail
    return ErrorKind.CONNECT_ERROR, detail


@mypyc_attr(allow_interpreted_subclasses=True)
class Requester:
    """One connection's request cycle, one request at a time: open the connection when
    there is none (or it cannot be reused), write the request, and tell how it ended:
    `succeeded` for a plain request's expected status (the hot path: no RequestResult is
    built), `ended` with a judged `RequestResult` for anything else. Subclasses define
    both, and `crash`.

    `dispatch` is the callback form (a connect, which is rare, runs as a task); an
    awaiting caller connects itself (`connect`) and then `write`s.
    """

    __slots__ = ("_connecting", "conn", "dialer", "prepared", "queued", "started", "written")

    def __init__(self, dialer: Dialer) -> None:
        self.dialer = dialer
        self.conn: Connection | None = None
        self.prepared: Prepared | None = None
        self.started = 0.0
        self.written = 0.0
        """When the begun request was written (`started`, or after its connect)."""
        self.queued = 0.0
        self._connecting: asyncio.Task[None] | None = None

    def succeeded(
        self, prepared: Prepared, now: float, status: int, size: int, first: float
    ) -> None:
        """The begun plain request got an expected `status` at `now` (a perf_counter
        time) with `size` body bytes, the first of the response's bytes at `first`."""
        raise NotImplementedError

    def ended(self, result: RequestResult, now: float) -> None:
        """The begun request ended otherwise (failed, or judged by its checks) at `now`."""
        raise NotImplementedError

    def crash(self, exc: Exception) -> None:
        """A bug in perfrun met in a callback, where raising would only be logged: the
        owner makes it surface from what runs the load."""
        raise NotImplementedError

    def begin(self, prepared: Prepared, intended: float | None) -> None:
        """Start the clock of a request; `intended` (a perf_counter time) is when the
        schedule wanted it sent."""
        self.prepared = prepared
        self.started = self.written = started = _clock()
        self.queued = started - intended if intended is not None and started > intended else 0.0

    def needs_connection(self) -> bool:
        conn = self.conn
        return (
            conn is None
            or conn.closed
            or not conn.reusable
            or (not conn.answering and conn.peer_closed())
        )

    async def connect(self) -> float:
        """Open a new connection in place of the current one, in the seconds returned;
        Failure when none opens."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        began = _clock()
        self.conn = await self.dialer.connect(self)
        self.written = now = _clock()
        return now - began

    def write(self) -> None:
        """Send the begun request on the open connection."""
        prepared = self.prepared
        conn = self.conn
        assert prepared is not None and conn is not None
        conn.request(
            prepared.payload,
            self,
            self.started + self.dialer.timeout,
            prepared.head,
            prepared.keep_headers,
            prepared.keep_body,
        )

    def dispatch(self, prepared: Prepared, intended: float | None = None) -> None:
        """Send a request now, from a callback; `succeeded` or `ended` hears how it ended."""
        self.begin(prepared, intended)
        if self.needs_connection():
            self.connect_started()
            self._connecting = asyncio.get_running_loop().create_task(self._connect_and_write())
        else:
            self.write()

    def connect_started(self) -> None:
        """A connect is under way for `dispatch` (a hook: the open model counts them)."""

    def connect_ended(self) -> None:
        """That connect succeeded or failed (or was cancelled)."""

    def connected(self, seconds: float) -> None:
        """That connect opened a connection in `seconds` (before the request goes out)."""

    def keep(self, response: Response) -> None:
        """The response of a request that reads one (see Prepared.reads)."""

    async def _connect_and_write(self) -> None:
        try:
            seconds = await self.connect()
        except Failure as failure:
            self._connecting = None
            self.connect_ended()
            self.on_failure(failure.kind, failure.detail)
            return
        except Exception as exc:  # never out of the engine: a failed request is data
            self._connecting = None
            self.connect_ended()
            self.on_failure(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
            return
        except BaseException:  # cancelled with the run
            self.connect_ended()
            raise
        self._connecting = None
        self.connect_ended()
        try:
            self.connected(seconds)
            self.write()
        except Exception as exc:  # a bug in perfrun, in a task nobody awaits
            self.crash(exc)

    # --- Owner: how the connection's request ended

    def on_response(self, conn: Connection) -> None:
        self.respond(conn, _clock())

    def respond(self, conn: Connection, now: float) -> None:
        """Tell how the request that `conn` just answered at `now` ended."""
        try:  # free in CPython 3.11 unless something raises
            prepared = self.prepared
            assert prepared is not None
            if not conn.reusable or prepared.close:
                conn.close()
            status = conn.status
            first = conn.first_byte
            if status in prepared.passes:
                self.succeeded(prepared, now, status, conn.size, first)
                return
            response = conn.response
            if prepared.reads:
                self.keep(response)
            judge = prepared.judge
            failures = judge.failures(status, response.headers, response.content)
            if failures == ():  # its checks passed: a success like a plain request's
                self.succeeded(prepared, now, status, conn.size, first)
                return
            result = judge.result(
                self.started, now - self.started, self.queued, status, conn.size, failures
            )._replace(wait=first - self.written, receive=now - first)
            self.ended(result, now)
        except Exception as exc:  # a bug in perfrun: surfaced by the owner
            self.crash(exc)

    def on_failure(self, kind: ErrorKind, detail: str) -> None:
        try:
            now = _clock()
            self.ended(self.failed(kind, detail, now), now)
        except Exception as exc:  # a bug in perfrun: surfaced by the owner
            self.crash(exc)

    def failed(self, kind: ErrorKind, detail: str, now: float | None = None) -> RequestResult:
        """The result of the begun request that failed; its connection is never reused
        (its state is unknown)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        assert self.prepared is not None
        started = self.started
        latency = (now if now is not None else _clock()) - started
        return RequestResult(self.prepared.name, started, latency, 0, 0, kind, detail, self.queued)

    def close(self) -> None:
        """Drop the connection (and a connect under way); no outcome follows."""
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None
