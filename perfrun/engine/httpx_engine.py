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
from collections.abc import Mapping, Sequence
from http.cookiejar import DefaultCookiePolicy

# httpx imports httpcore (~80 ms) when the first client is built and anyio's backend
# (~25 ms) on the first request. Done here, at import, so those costs never land inside
# a load schedule as fake latency on the first requests.
import anyio._backends._asyncio  # noqa: F401
import httpcore  # noqa: F401
import httpx

from perfrun.engine.base import Exchange, Rendered
from perfrun.engine.checks import Judge
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
        return _connect_kind(exc), detail
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return ErrorKind.RESET, detail
    if isinstance(exc, httpx.RemoteProtocolError):
        message = str(exc).lower()
        if "disconnected" in message or "peer closed connection" in message:
            return ErrorKind.RESET, detail
        return ErrorKind.PROTOCOL, detail
    if isinstance(exc, httpx.ProtocolError):
        return ErrorKind.PROTOCOL, detail
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return ErrorKind.RESET, detail
    return ErrorKind.OTHER, detail


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
    """What can be computed once per endpoint: method, headers, encoded body."""

    __slots__ = ("content", "headers", "judge", "method", "name", "path")

    def __init__(self, spec: RequestSpec) -> None:
        self.name = spec.name
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
        # A request on its own keeps no cookie for the next (as the fast engine's): the
        # client would otherwise send back what an earlier response set.
        self._client.cookies.clear()
        result, _ = await self._send(
            prepared, prepared.path, prepared.headers, prepared.content, intended
        )
        return result

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
        result, response = await self._send(
            prepared, path, headers, content, intended, follow=max_redirects > 0
        )
        if response is None or not request.captures:
            return Exchange(result, {}, b"")
        kept = {name.lower(): value for name, value in response.headers.items()}
        return Exchange(result, kept, response.content)

    async def _send(
        self, prepared: _Prepared, path: str, headers: Mapping[str, str], content: bytes | None,
        intended: float | None, follow: bool = False,
    ) -> tuple[RequestResult, httpx.Response | None]:  # fmt: skip
        self._connecting = False
        self._marks = {}
        self._method, self._last, self._followed = prepared.method, None, 0
        started = time.perf_counter()
        queued = max(started - intended, 0.0) if intended is not None else 0.0
        try:
            async with asyncio.timeout(self._engine.timeout):
                response = await self._client.request(
                    prepared.method,
                    path,
                    headers=headers,
                    content=content,
                    extensions={"trace": self._trace},
                    follow_redirects=follow,
                )
        except httpx.TooManyRedirects:
            return self._too_many_redirects(prepared, started, queued), None
        except Exception as exc:  # a failed request is data, never an exception out
            kind, detail = classify(exc)
            if kind is ErrorKind.TIMEOUT and self._connecting:
                kind = ErrorKind.CONNECT_TIMEOUT
            latency = time.perf_counter() - started
            failed = RequestResult(
                prepared.name, started, latency, 0, 0, kind, detail, queued,
                redirects=self._followed if follow else 0,
            )  # fmt: skip
            return failed, None
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
            lambda: response.content,
        )._replace(connect=connect, wait=wait, receive=receive, redirects=len(response.history))
        return result, response

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
        tls: TlsSpec = CHECKED_TLS, http2: bool = False,
    ) -> None:  # fmt: skip
        self.base_url = base_url
        self.timeout = timeout
        self.http2 = http2
        self.ssl_context: ssl.SSLContext = tls_context(tls)
        self._prepared = {spec.name: _Prepared(spec) for spec in requests}

    def prepared(self, spec: RequestSpec) -> _Prepared:
        return self._prepared[spec.name]

    def session(self) -> HttpxSession:
        return HttpxSession(self)

    async def aclose(self) -> None:
        """Nothing shared to close: every session closes its own client."""
