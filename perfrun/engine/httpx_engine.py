"""The reference engine, on httpx: every HTTP feature, ~2k requests/s per core.

Connection handling is shaped by what was measured on httpcore: a single shared
`AsyncClient` collapses under concurrency (its pool scans every connection for every
request: ~200 req/s at 50 users), so each virtual user gets its own client with a
one-connection pool; all clients share one SSL context (building one costs ~20 ms CPU).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import zlib
from collections.abc import Mapping, Sequence
from http.cookiejar import DefaultCookiePolicy
from typing import NamedTuple

# httpx imports httpcore (~80 ms) when the first client is built and anyio's backend
# (~25 ms) on the first request. Done here, at import, so those costs never land inside
# a load schedule as fake latency on the first requests.
import anyio._backends._asyncio  # noqa: F401
import httpcore  # noqa: F401
import httpx

from perfrun.engine.base import Exchange, Rendered
from perfrun.engine.checks import Judge
from perfrun.engine.debug import HttpDebug, Message, Tracer
from perfrun.engine.exhausted import exhausted
from perfrun.engine.limits import MAX_BODY, InvalidRequest, check_headers, check_target, invalid
from perfrun.engine.tls import ssl_context as tls_context
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.scenario.model import CHECKED_TLS, RequestSpec, TlsSpec


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """Map an exception raised while sending to an error kind and a short detail.

    The one place where httpx's exception tree meets perfrun's error kinds.
    """
    detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if isinstance(exc, httpx.ConnectTimeout):
        return ErrorKind.CONNECT_TIMEOUT, detail
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return ErrorKind.TIMEOUT, detail
    if isinstance(exc, httpx.ConnectError):
        own = exhausted(exc)
        return (ErrorKind.OTHER, own) if own is not None else (_connect_kind(exc), detail)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return ErrorKind.RESET, detail
    refused = _refused(exc)
    if refused is not None:
        return refused, detail
    if isinstance(exc, httpx.RemoteProtocolError):
        message = str(exc).lower()
        # h11: "peer closed connection without ...", "peer unexpectedly closed connection"
        # (inside a chunked body's end), httpcore: "Server disconnected ...".
        if "disconnected" in message or "closed connection" in message:
            return ErrorKind.RESET, detail
        return ErrorKind.PROTOCOL, detail
    if isinstance(exc, httpx.ProtocolError):
        return ErrorKind.PROTOCOL, detail
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return ErrorKind.RESET, detail
    return ErrorKind.OTHER, detail


def _refused(exc: BaseException) -> ErrorKind | None:
    """The kind of a request perfrun itself refused: to keep a body too large, or to
    send a request HTTP/1.1 cannot carry (h11 and httpx refuse it before it is sent)."""
    if isinstance(exc, _BodyTooLarge):
        return ErrorKind.BODY_TOO_LARGE
    if isinstance(exc, (httpx.LocalProtocolError, httpx.InvalidURL, InvalidRequest)):
        return ErrorKind.INVALID_REQUEST
    return None


def _connect_kind(exc: httpx.ConnectError) -> ErrorKind:
    if _caused_by(exc, ssl.SSLError):
        return ErrorKind.TLS  # the server was reached: its certificate was refused
    if _caused_by(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return ErrorKind.CONNECT_REFUSED
    return ErrorKind.CONNECT_ERROR


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class _Prepared:
    """What can be computed once per endpoint: method, headers, encoded body; how much
    of a response body to keep (`keep_body`: 0 when nothing reads it, else the most
    kept), and why it cannot be sent (`invalid`: None when it can)."""

    __slots__ = ("content", "headers", "invalid", "judge", "keep_body", "method", "name", "path")

    def __init__(self, spec: RequestSpec, max_body: int = MAX_BODY) -> None:
        self.name = spec.name
        reads = spec.checks.body_contains or spec.checks.json
        self.keep_body = max_body if reads or any(c.needs_body for c in spec.captures) else 0
        self.invalid = invalid(spec.path, spec.headers.items())
        """Defence in depth: the loader refuses such a request."""
        self.method = spec.method
        self.path = spec.path
        self.headers = dict(spec.headers)
        self.content: bytes | None = None
        if spec.json is not None:
            self.content = json.dumps(spec.json).encode()
            self.headers.setdefault("Content-Type", "application/json")
        elif spec.body is not None:
            self.content = spec.body.encode()
        self.judge = Judge(spec, f"{spec.method} {spec.path}")


class _BodyTooLarge(Exception):
    """A body to keep was larger than `max_body`: classified as `body_too_large`."""


async def _read_body(response: httpx.Response, keep: int) -> bytes:
    """The (decoded) body of a response being streamed when `keep` (its most bytes) is
    not 0, else b"" once the body has been read to its end and counted (in
    `num_bytes_downloaded`), in constant memory. _BodyTooLarge past `keep` bytes."""
    if not keep:
        if not response.is_stream_consumed:  # a traced session may have read it already
            async for _ in response.aiter_raw():
                pass
        return b""
    kept = bytearray()  # grown in place: a list of parts fragments the heap (see fast_wire)
    coding = response.headers.get("content-encoding", "").strip().lower()
    if coding in ("gzip", "deflate") and not response.is_stream_consumed:
        # Decoded here, at most one byte past what is left (httpx would decode a whole
        # read: a 64 KiB gzip read of zeros is 64 MB), as the fast engine decodes it.
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
        async for raw in response.aiter_raw():
            part = decoder.decompress(raw, keep - len(kept) + 1)
            if len(kept) + len(part) > keep:
                raise _BodyTooLarge(f"response body over max_body ({keep} bytes)")
            kept += part
        return bytes(kept)
    async for part in response.aiter_bytes():
        if len(kept) + len(part) > keep:
            raise _BodyTooLarge(f"response body over max_body ({keep} bytes)")
        kept += part
    return bytes(kept)


class _Read(NamedTuple):
    """A sent request's result, its response (None when none came), and its body as
    kept (b"" when not kept)."""

    result: RequestResult
    response: httpx.Response | None
    body: bytes


async def _unsent(name: str, detail: str, intended: float | None) -> RequestResult:
    """The result of a request that could not be sent (`invalid_request`)."""
    await asyncio.sleep(0)  # nothing was sent: let the other users and signals run
    now = time.perf_counter()
    queued = max(now - intended, 0.0) if intended is not None else 0.0
    return RequestResult(name, now, 0.0, 0, 0, ErrorKind.INVALID_REQUEST, detail, queued)


class HttpxSession:
    """One virtual user's client: one keep-alive connection, reused."""

    def __init__(self, engine: HttpxEngine) -> None:
        self._engine = engine
        self._connecting = False
        self._marks: dict[str, float] = {}
        self._cookieless = False
        self._method = ""
        """The method of the step being sent (a redirect may change it)."""
        self._last: httpx.Response | None = None
        """The last response of the request being sent (of its last hop)."""
        self._followed = 0
        """Redirects of the request being sent so far: a failure keeps their count."""
        self._client = httpx.AsyncClient(
            base_url=engine.base_url,
            verify=engine.ssl_context,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            # `http2: true` means HTTP/2 only, never a quiet fall-back to HTTP/1.1: over
            # TLS, ALPN offers h2 alone; over plain http, h2 with prior knowledge (h2c).
            http1=not engine.http2,
            http2=engine.http2,
            timeout=engine.timeout,
            # No proxies or .netrc from the environment: the load must go where the
            # scenario says, and the numbers must not include a proxy's hop.
            trust_env=False,
            follow_redirects=False,
            # The same codings as the fast engine, whatever decoders happen to be installed.
            headers={"Accept-Encoding": "gzip, deflate"},
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )

    async def _on_request(self, request: httpx.Request) -> None:
        """Each hop of a request: a redirect that turns it into a GET leaves its body
        behind, and (RFC 9110 15.4, as the fast engine does) the body's Content-Type,
        which httpx keeps."""
        if request.method == "GET" and self._method != "GET":
            request.headers.pop("Content-Type", None)

    async def _on_response(self, response: httpx.Response) -> None:
        self._last = response
        if response.has_redirect_location:
            self._followed += 1

    async def _trace(self, event: str, info: dict[str, object]) -> None:
        """httpcore's trace events: when each came (for the phases), and whether a
        connect is under way (to tell a connect timeout from a response timeout when the
        outer guard fires)."""
        self._marks[event] = time.perf_counter()
        if event == "connection.connect_tcp.started":
            self._connecting = True
        elif event.endswith(".send_request_headers.started"):
            self._connecting = False

    def _phases(self, end: float) -> tuple[float | None, float | None, float | None]:
        """The request's phases from its trace: connect (TCP, and TLS when it ends
        later), wait (request body sent → response head in: httpcore tells no first
        byte) and receive (head in → body read)."""
        marks = self._marks
        began = marks.get("connection.connect_tcp.started")
        connected = marks.get("connection.start_tls.complete") or marks.get(
            "connection.connect_tcp.complete"
        )
        sent = marks.get("http11.send_request_body.complete") or marks.get(
            "http2.send_request_body.complete"
        )
        head = marks.get("http11.receive_response_headers.complete") or marks.get(
            "http2.receive_response_headers.complete"
        )
        return (
            connected - began if began and connected else None,
            head - sent if sent and head else None,
            end - head if head else None,
        )

    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        prepared = self._engine.prepared(request)
        if prepared.invalid is not None:
            return await _unsent(prepared.name, prepared.invalid, intended)
        # A request on its own keeps no cookie for the next (as the fast engine's): the
        # client would otherwise send back what an earlier response set.
        self._client.cookies.clear()
        read = await self._send(
            prepared, prepared.path, prepared.headers, prepared.content, intended
        )
        return read.result

    async def exchange(
        self, request: RequestSpec, rendered: Rendered | None, cookies: bool = True,
        max_redirects: int = 0, *, intended: float | None = None,
    ) -> Exchange:  # fmt: skip
        prepared = self._engine.prepared(request)
        self._client.max_redirects = max_redirects
        if intended is not None:  # a request on its own: a jar for its chain only
            self._client.cookies.clear()
        if not cookies and not self._cookieless:
            # A policy that accepts and returns no cookie: none is kept, not even between
            # the hops of one redirect chain (which the client follows by itself).
            self._client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            self._client.cookies.clear()
            self._cookieless = True
        if rendered is None:
            path, headers, content = prepared.path, prepared.headers, prepared.content
        else:
            headers = dict(prepared.headers)
            headers.update(rendered.headers)
            path, content = rendered.path, rendered.body
        try:
            if prepared.invalid is not None:
                raise InvalidRequest(prepared.invalid)
            if rendered is not None:
                check_target(path)
                check_headers(rendered.headers.items())
        except InvalidRequest as exc:
            return Exchange(await _unsent(prepared.name, str(exc), intended), {}, b"")
        read = await self._send(
            prepared, path, headers, content, intended, follow=max_redirects > 0
        )
        result, response = read.result, read.response
        if response is None or not request.captures:
            return Exchange(result, {}, b"")
        kept = {name.lower(): value for name, value in response.headers.items()}
        return Exchange(result, kept, read.body)

    async def _send(
        self, prepared: _Prepared, path: str, headers: Mapping[str, str], content: bytes | None,
        intended: float | None, follow: bool = False,
    ) -> _Read:  # fmt: skip
        """Send the request and read its response (bounded: see `_read_body`) within
        the timeout."""
        self._connecting = False
        self._marks = {}
        self._method, self._last, self._followed = prepared.method, None, 0
        started = time.perf_counter()
        queued = max(started - intended, 0.0) if intended is not None else 0.0
        try:
            async with asyncio.timeout(self._engine.timeout):
                request = self._client.build_request(
                    prepared.method,
                    path,
                    headers=headers,
                    content=content,
                    extensions={"trace": self._trace},
                )
                response = await self._followed_to_the_end(request, follow)
                try:
                    body = await _read_body(response, prepared.keep_body)
                finally:
                    await response.aclose()  # a body not read to its end: closes the connection
        except httpx.TooManyRedirects:
            return _Read(self._too_many_redirects(prepared, started, queued), None, b"")
        except Exception as exc:  # a failed request is data, never an exception out
            kind, detail = classify(exc)
            if kind is ErrorKind.TIMEOUT and self._connecting:
                kind = ErrorKind.CONNECT_TIMEOUT
            latency = time.perf_counter() - started
            failed = RequestResult(
                prepared.name, started, latency, 0, 0, kind, detail, queued,
                redirects=self._followed if follow else 0,
            )  # fmt: skip
            return _Read(failed, None, b"")
        end = time.perf_counter()
        connect, wait, receive = self._phases(end)
        if response.history:  # a chain: the trace's marks are the last hop's
            connect = wait = receive = None
        result = prepared.judge.judge(
            started,
            end - started,
            queued,
            response.status_code,
            response.num_bytes_downloaded,  # on the wire, before any decoding
            response.headers,
            lambda: body,
        )._replace(connect=connect, wait=wait, receive=receive, redirects=len(response.history))
        return _Read(result, response, body)

    async def _followed_to_the_end(self, request: httpx.Request, follow: bool) -> httpx.Response:
        """The response to `request`, its redirects followed here rather than by httpx,
        which reads each redirect's body whole into memory: each is counted and dropped
        (`_read_body`, keeping nothing). TooManyRedirects past the client's max_redirects,
        as httpx raises it (after following that many)."""
        response = await self._client.send(request, stream=True, follow_redirects=False)
        history: list[httpx.Response] = []
        while follow and response.next_request is not None:
            following = response.next_request
            try:
                await _read_body(response, 0)
            finally:
                await response.aclose()
            if len(history) >= self._client.max_redirects:
                raise httpx.TooManyRedirects(
                    "Exceeded maximum allowed redirects.", request=following
                )
            history.append(response)
            response = await self._client.send(following, stream=True, follow_redirects=False)
        response.history = history
        return response

    def _too_many_redirects(
        self, prepared: _Prepared, started: float, queued: float
    ) -> RequestResult:
        """A chain past max_redirects, recorded as the fast engine records it: the last
        redirect's status and bytes, the redirects followed."""
        most, last = self._client.max_redirects, self._last
        status, size = (last.status_code, last.num_bytes_downloaded) if last else (0, 0)
        latency = time.perf_counter() - started
        return RequestResult(
            prepared.name, started, latency, status, size, ErrorKind.OTHER,
            f"more than {most} redirects", queued, redirects=most,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self._client.aclose()


class HttpxEngine:
    """Hands out one `HttpxSession` per virtual user (each closes its own client)."""

    name = "httpx"

    def __init__(
        self, base_url: str, timeout: float, requests: Sequence[RequestSpec],
        tls: TlsSpec = CHECKED_TLS, http2: bool = False, debug: HttpDebug | None = None,
        max_body: int = MAX_BODY,
    ) -> None:  # fmt: skip
        """`debug` (--http-debug): sessions that show the first exchanges (`_TracedSession`);
        without it the plain sessions, untouched. `max_body`: the most bytes of a
        response body kept for a check or a capture (see `perfrun.engine.limits`)."""
        self.base_url = base_url
        self.timeout = timeout
        self.http2 = http2
        self.ssl_context: ssl.SSLContext = tls_context(tls)
        self._prepared = {spec.name: _Prepared(spec, max_body) for spec in requests}
        self._tracer = Tracer(debug) if debug is not None else None

    def prepared(self, spec: RequestSpec) -> _Prepared:
        return self._prepared[spec.name]

    def session(self) -> HttpxSession:
        if self._tracer is not None:
            return _TracedSession(self, self._tracer)
        return HttpxSession(self)

    async def aclose(self) -> None:
        """Nothing shared to close: every session closes its own client."""


class _Hop:
    """One request of a traced send (a redirect chain has several): its number and what
    was sent (None: not shown), and the response to it, once its head came."""

    __slots__ = ("number", "request", "response")

    def __init__(self, number: int | None, request: Message | None) -> None:
        self.number = number
        self.request = request
        self.response: httpx.Response | None = None


class _TracedSession(HttpxSession):
    """A session whose client's event hooks note each request as httpx sends it (its
    request line and headers: httpx's own, with the client's cookies) and each
    response's head as received; the send, once ended, shows them, and how a request
    that got no response failed."""

    def __init__(self, engine: HttpxEngine, tracer: Tracer) -> None:
        super().__init__(engine)
        self._tracer = tracer
        self._version = "HTTP/2" if engine.http2 else "HTTP/1.1"
        self._hops: list[_Hop] = []
        hooks = self._client.event_hooks
        self._client.event_hooks = {
            "request": [*hooks["request"], self._note_request],
            "response": [*hooks["response"], self._note_response],
        }

    async def _note_request(self, request: httpx.Request) -> None:
        number = self._tracer.begin()
        if number is None:
            self._hops.append(_Hop(None, None))
            return
        line = f"{request.method} {request.url.raw_path.decode('ascii')} {self._version}"
        try:
            content = request.content
            size = len(content)
        except httpx.RequestNotRead:  # a redirect's hop: the first hop's body, streamed again
            content, size = b"", int(request.headers.get("content-length", 0))
        self._hops.append(_Hop(number, Message(_head(line, request.headers), content, size)))

    async def _note_response(self, response: httpx.Response) -> None:
        hop = self._hops[-1] if self._hops else None
        if hop is not None and hop.number is not None and hop.response is None:
            hop.response = response
            if self._tracer.bodies:
                await response.aread()  # as httpx advises, to see the body in a hook

    async def _send(
        self, prepared: _Prepared, path: str, headers: Mapping[str, str], content: bytes | None,
        intended: float | None, follow: bool = False,
    ) -> _Read:  # fmt: skip
        self._hops = []
        read = await super()._send(prepared, path, headers, content, intended, follow)
        result, response = read.result, read.response
        for index, hop in enumerate(self._hops):
            if hop.number is None:
                continue
            failed = index == len(self._hops) - 1 and response is None and result.error
            error = f"{result.error}: {result.detail}" if failed else ""
            self._tracer.show(
                hop.number, prepared.name, hop.request, _received(hop.response), error
            )
        self._hops = []
        return read


def _head(start_line: str, headers: httpx.Headers) -> str:
    lines = [start_line]
    lines += [f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in headers.raw]
    return "\r\n".join(lines)


def _received(response: httpx.Response | None) -> Message | None:
    """A response's head as received and its body as read (decoded), if it was; its
    size as received."""
    if response is None:
        return None
    line = f"{response.http_version} {response.status_code} {response.reason_phrase}".rstrip()
    try:
        body = response.content
    except httpx.ResponseNotRead:
        body = b""
    coding = response.headers.get("content-encoding", "").strip().lower()
    if coding in ("", "identity"):
        coding = ""
    return Message(_head(line, response.headers), body, response.num_bytes_downloaded, coding)
