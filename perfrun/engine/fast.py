"""The fast engine: HTTP/1.1 keep-alive on asyncio protocols, parsed by httptools (llhttp).

Built for load generation, not general use: one connection per session, request bytes
built once per endpoint, responses parsed in C, the body kept only when a check needs
it. TLS through the standard `ssl` module with one shared context. It does plain
HTTP/1.1 requests and responses (sized, chunked and read-until-close bodies, HEAD,
`Connection: close`); anything more (HTTP/2, proxies, redirects, cookies, auth flows)
is the httpx engine's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import select
import ssl
import time
import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httptools
import httpx

from perfrun import __version__
from perfrun.engine.checks import judge_response
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.scenario.model import Checks, RequestSpec

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WATCHED_LENGTHS = frozenset(
    len(name) for name in (b"content-length", b"transfer-encoding", b"content-encoding")
)
WATCH_INTERVAL = 0.05
"""Seconds between sweeps for timed-out requests: timeouts fire up to this late."""


class _Response:
    """What one response brought: status, body size, and (only if wanted) headers/body."""

    __slots__ = ("body", "headers", "size", "status")

    def __init__(self) -> None:
        self.status = 0
        self.size = 0
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []


class _Failure(Exception):
    """A request failed; carries the error kind. Never leaves the engine."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: send a request, resolve a future with its response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = _parser(self)
        self._waiter: asyncio.Future[_Response] | None = None
        self._poll = select.poll()
        self._loop = asyncio.get_running_loop()  # built by create_connection, in the loop
        self.deadline = math.inf
        """perf_counter time by which the response must be complete (see the watchdog)."""
        self._response = _Response()
        self._keep_headers = False
        self._keep_body = False
        self._head = False
        self._headers_done = False
        self._interim = False
        self._decoder: Any = None
        self._delimited = False
        """The body has a Content-Length or is chunked (else it ends with the connection)."""
        self.reusable = True

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._poll.register(transport.get_extra_info("socket").fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ErrorKind.PROTOCOL, "unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            self._fail(ErrorKind.PROTOCOL, f"invalid HTTP response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and not self._delimited:
            self._complete()  # a body without length ends with the connection
        else:
            self._fail(ErrorKind.RESET, "server closed the connection before the response ended")

    # --- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        # Called for every header of every response: only the few that matter are looked
        # at, picked by length first (Connection: close is seen by should_keep_alive()).
        if self._headers_done:
            return  # a chunked trailer: not a header (httpx drops them too)
        if len(name) in _WATCHED_LENGTHS:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self._delimited = True
            elif (
                lower == b"content-encoding"
                and self._keep_body
                and value.strip().lower() in (b"gzip", b"deflate")
            ):
                # Decoded only for body checks: bytes_received counts what came over the wire.
                self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        if self._keep_headers:
            key = name.lower().decode("latin-1")
            text = value.decode("latin-1")
            known = self._response.headers.get(key)
            self._response.headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            # An interim response (103 Early Hints, 100 Continue): the final one follows.
            self._interim = True
            self._response = _Response()
            self._delimited = False
            self._decoder = None
            return
        self._headers_done = True
        self._response.status = status
        if not self._parser.should_keep_alive():
            self.reusable = False
        if self._head:
            # No body follows a HEAD response, but llhttp cannot be told so: it would wait
            # for Content-Length bytes. Complete now and parse the next one afresh.
            self._parser = _parser(self)
            self._complete()

    def on_body(self, body: bytes) -> None:
        self._response.size += len(body)
        if self._keep_body:
            decoder = self._decoder
            self._response.body.append(body if decoder is None else decoder.decompress(body))

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._waiter is not None and not self._waiter.done():
            self._complete()

    # --- used by the session

    def request(
        self, payload: bytes, *, deadline: float, head: bool, keep_headers: bool, keep_body: bool
    ) -> asyncio.Future[_Response]:
        assert self.transport is not None
        self._waiter = self._loop.create_future()
        self.deadline = deadline
        self._response = _Response()
        self._head, self._keep_headers, self._keep_body = head, keep_headers, keep_body
        self._headers_done = False
        self._delimited = False
        self._decoder = None
        self.transport.write(payload)
        return self._waiter

    def peer_closed(self) -> bool:
        """The idle connection has something to read: the server's FIN (or garbage) that
        the loop has not processed yet. httpcore checks the same before reusing one."""
        return bool(self._poll.poll(0))

    def expire(self, now: float) -> None:
        """Fail the pending request if its deadline has passed (called by the watchdog)."""
        if now > self.deadline and self._waiter is not None and not self._waiter.done():
            self._fail(ErrorKind.TIMEOUT, "no complete response within the timeout")

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._response)

    def _fail(self, kind: ErrorKind, detail: str) -> None:
        self.reusable = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(_Failure(kind, detail))
        if self.transport is not None:
            self.transport.close()


def _parser(protocol: _Connection) -> Any:
    parser = httptools.HttpResponseParser(protocol)
    # Transfer-Encoding overrides Content-Length (RFC 9112 6.3), as in httpx.
    parser.set_dangerous_leniencies(lenient_chunked_length=True)
    return parser


class _Prepared:
    """An endpoint's request, serialised once."""

    __slots__ = (
        "checks",
        "close",
        "expect",
        "head",
        "keep_body",
        "keep_headers",
        "name",
        "payload",
        "request_line",
    )

    def __init__(self, spec: RequestSpec, host_header: str, prefix: str) -> None:
        self.name = spec.name
        self.expect = frozenset(spec.expect_status)
        self.checks: Checks | None = spec.checks if spec.checks else None
        self.request_line = f"{spec.method} {spec.path}"
        self.head = spec.method == "HEAD"
        self.keep_body = bool(spec.checks.body_contains or spec.checks.json)
        self.keep_headers = bool(spec.checks.headers)
        body = b""
        headers = {
            "Host": host_header,
            "User-Agent": f"perfrun/{__version__}",
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
        }
        if spec.json is not None:
            body = json.dumps(spec.json).encode()
            headers["Content-Type"] = "application/json"
        elif spec.body is not None:
            body = spec.body.encode()
        merged = {k.lower(): (k, v) for k, v in headers.items()}
        merged.update({k.lower(): (k, v) for k, v in spec.headers.items()})
        if body or spec.method in ("POST", "PUT", "PATCH"):
            merged["content-length"] = ("Content-Length", str(len(body)))
        self.close = merged.get("connection", ("", ""))[1].strip().lower() == "close"
        target = httpx.URL(spec.path).raw_path.decode("ascii")
        lines = [f"{spec.method} {prefix}{target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in merged.values()]
        self.payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FastSession:
    """One virtual user's connection, opened on first use and reopened when closed."""

    def __init__(self, engine: FastEngine) -> None:
        self._engine = engine
        self._conn: _Connection | None = None

    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        engine = self._engine
        prepared = engine.prepared[request.name]
        started = time.perf_counter()
        queued = max(started - intended, 0.0) if intended is not None else 0.0
        conn = self._conn
        try:
            if conn is None or conn.closed or not conn.reusable or conn.peer_closed():
                if conn is not None:
                    conn.close()
                self._conn = None
                conn = self._conn = await engine.connect()
            response = await conn.request(
                prepared.payload,
                deadline=started + engine.timeout,
                head=prepared.head,
                keep_headers=prepared.keep_headers,
                keep_body=prepared.keep_body,
            )
        except _Failure as failure:
            return self._failed(prepared.name, started, queued, failure.kind, failure.detail)
        except Exception as exc:  # never out of the engine: a failed request is data
            detail = f"{type(exc).__name__}: {exc}"
            return self._failed(prepared.name, started, queued, ErrorKind.OTHER, detail)
        latency = time.perf_counter() - started
        if not conn.reusable or prepared.close:
            conn.close()
        return judge_response(
            prepared.name, started, latency, queued, response.status, response.size,
            prepared.expect, prepared.checks, response.headers,
            lambda: b"".join(response.body), prepared.request_line,
        )  # fmt: skip

    def _failed(
        self, name: str, started: float, queued: float, kind: ErrorKind, detail: str
    ) -> RequestResult:
        if self._conn is not None:
            self._conn.close()  # its state is unknown: never reuse it
            self._conn = None
        return RequestResult(
            name, started, time.perf_counter() - started, 0, 0, kind, detail, queued
        )

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def classify_os_error(exc: OSError | ValueError) -> tuple[ErrorKind, str]:
    """The one place the fast engine maps connect errors to error kinds (errors on an
    open connection arrive through connection_lost as resets)."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.CONNECT_REFUSED, detail
    return ErrorKind.CONNECT_ERROR, detail


class FastEngine:
    """Hands out one `FastSession` (one keep-alive connection) per virtual user."""

    name = "fast"

    def __init__(self, base_url: str, timeout: float, requests: Sequence[RequestSpec]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"the fast engine needs an http:// or https:// URL, got {base_url}")
        self.timeout = timeout
        self.host = parts.hostname
        self.port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self.ssl_context: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        default = parts.port is None or parts.port == _DEFAULT_PORTS[parts.scheme]
        host_header = parts.hostname if default else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            host_header = f"[{parts.hostname}]" + ("" if default else f":{parts.port}")
        prefix = parts.path.rstrip("/")
        self.prepared = {spec.name: _Prepared(spec, host_header, prefix) for spec in requests}
        self._connections: set[_Connection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def connect(self) -> _Connection:
        """A new connection, or _Failure with the connect error's kind."""
        loop = asyncio.get_running_loop()
        if self._watchdog is None:
            self._watchdog = loop.create_task(self._watch())
        try:
            async with asyncio.timeout(self.timeout):
                _, protocol = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context is not None else None,
                )
        except TimeoutError:
            raise _Failure(ErrorKind.CONNECT_TIMEOUT, "no connection within the timeout") from None
        except (OSError, ValueError) as exc:  # ValueError/UnicodeError: a name that is no name
            raise _Failure(*classify_os_error(exc)) from None
        self._connections.add(protocol)
        return protocol

    async def _watch(self) -> None:
        """Time out requests without a timer per request: one sweep over the open
        connections every WATCH_INTERVAL (an asyncio timeout per request costs more
        than the rest of the request's bookkeeping together)."""
        interval = min(WATCH_INTERVAL, self.timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.perf_counter()
            for conn in list(self._connections):
                if conn.closed:
                    self._connections.discard(conn)
                else:
                    conn.expire(now)

    def session(self) -> FastSession:
        return FastSession(self)

    async def aclose(self) -> None:
        """Stop the watchdog; every session closes its own connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
