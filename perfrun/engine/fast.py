"""The fast engine: HTTP/1.1 keep-alive on asyncio protocols, parsed by httptools (llhttp).

Built for load generation, not general use: one connection per user, request bytes
built once per endpoint, responses parsed in C, the body kept only when a check needs
it. TLS through the standard `ssl` module with one shared context. It does HTTP/1.1
requests and responses (sized, chunked and read-until-close bodies, HEAD,
`Connection: close`), and for flows each user's cookies and same-origin redirects;
HTTP/2 and redirects to another origin are the httpx engine's job.

It runs the load models itself (`run_closed`, `run_closed_stages`, `run_open`: see
`perfrun.engine.fast_closed` and `fast_open`) and flows (`run_flow`: see
`perfrun.engine.fast_flow`), as callbacks on its connections, which costs half the CPU
of a coroutine awaiting a future per request. `session()` and its awaitable `send` and
`exchange` remain for everything else (the conformance suite, scripted tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from perfrun.engine import fast_flow
from perfrun.engine.backoff import Backoffs
from perfrun.engine.base import Exchange, Rendered
from perfrun.engine.cookies import Jar
from perfrun.engine.debug import HttpDebug, Tracer
from perfrun.engine.executors import SessionLoads
from perfrun.engine.fast_closed import run_closed, run_closed_stages
from perfrun.engine.fast_debug import DebugDialer
from perfrun.engine.fast_dial import Dialer
from perfrun.engine.fast_flow import (
    DEFAULT_PORTS,
    REDIRECTS,
    StepPlan,
    next_hop,
    unsendable,
    without_content_type,
)
from perfrun.engine.fast_open import run_open
from perfrun.engine.fast_wire import (
    Failure,
    Prepared,
    RedirectWatchingConnection,
    Requester,
    Response,
    WatchingConnection,
    WatchingFullConnection,
)
from perfrun.engine.limits import MAX_BODY
from perfrun.engine.mix import Mix
from perfrun.engine.share import Share
from perfrun.engine.tls import ssl_context as tls_context
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.data import Data
from perfrun.scenario.model import CHECKED_TLS, LoadSpec, RequestSpec, TlsSpec


class FastSession(Requester):
    """One virtual user's connection, opened on first use and reopened when closed; its
    `send` awaits one request."""

    __slots__ = (
        "_by_name", "_chain_started", "_connect", "_full", "_host_header", "_jar", "_kept",
        "_origin", "_prefix", "_waiter",
    )  # fmt: skip

    def __init__(self, engine: FastEngine) -> None:
        super().__init__(engine.dialer)
        self._by_name = engine.prepared
        self._waiter: asyncio.Future[RequestResult] | None = None
        self._connect: float | None = None
        self._kept: Response | None = None
        self._jar: Jar | None = None
        """The user's cookies, from its first flow step (see `exchange`)."""
        self._origin = engine.origin
        self._host_header, self._prefix = engine.host_header, engine.prefix
        self._full = False
        self._chain_started: float | None = None
        """When the redirect chain under way began: its timeout covers the whole chain,
        as in httpx (None: no chain)."""
        """Seconds the pending request spent opening its connection (None: reused)."""

    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        self._chain_started = None
        prepared = self._by_name[request.name]
        if prepared.invalid is not None:
            return await _unsent(prepared.name, prepared.invalid, intended)
        return await self._send(prepared, intended)

    async def exchange(
        self, request: RequestSpec, rendered: Rendered | None, cookies: bool = True,
        max_redirects: int = 0, *, intended: float | None = None,
    ) -> Exchange:  # fmt: skip
        if (cookies or max_redirects) and not self._full:
            self._full = True
            self.dialer.full_connections()  # to read Set-Cookie and Location
        if cookies and (self._jar is None or intended is not None):
            self._jar = Jar(self._origin)  # a request on its own: a jar for its chain only
        spec = request
        prepared = self._by_name[spec.name]
        # The request target from the origin (the base URL's path prefix included).
        target = self._prefix + (rendered.path if rendered is not None else spec.path)
        headers = dict(rendered.headers) if rendered is not None else {}
        body = rendered.body if rendered is not None else prepared.body
        plan = StepPlan(prepared, self._host_header, self._prefix)  # for next_hop
        first: RequestResult | None = None
        self._chain_started = None
        for hop in range(max_redirects + 1):
            exchange = await self._hop(
                spec, target, headers, body, cookies or max_redirects > 0,
                intended if hop == 0 else None,
            )  # fmt: skip
            result = exchange.result
            if first is None:
                first = self._chain_started_by(result)
            location = exchange.headers.get("location")
            if result.status not in REDIRECTS or not max_redirects or location is None:
                break
            following = next_hop(self._origin, target, location, plan, result.status, hop,
                                 max_redirects)  # fmt: skip
            if isinstance(following, str):
                return self._chain(first, result, hop, ErrorKind.OTHER, following, exchange)
            target = following.target
            if following.plan is not plan:  # the body goes, and its Content-Type
                plan, spec, body = following.plan, following.plan.spec, None
                headers = dict(without_content_type(headers.items()))
        assert first is not None
        return self._chain(first, result, hop, result.error, result.detail, exchange)

    def _chain_started_by(self, first: RequestResult) -> RequestResult:
        """The first request of a possible chain: the later hops' timeout counts from it."""
        self._chain_started = first.started
        return first

    def write(self) -> None:
        prepared, conn = self.prepared, self.conn
        assert prepared is not None and conn is not None
        started = self.started if self._chain_started is None else self._chain_started
        conn.request(prepared.payload, self, started + self.dialer.timeout, prepared.head,
                     prepared.keep_headers, prepared.keep_body)  # fmt: skip

    def _chain(
        self, first: RequestResult, last: RequestResult, redirects: int,
        error: ErrorKind | None, detail: str, exchange: Exchange,
    ) -> Exchange:  # fmt: skip
        """One result for a chain of `redirects` redirects: from the first request's start
        to the last one's end, judged by the last (phases untimed after a redirect)."""
        if not redirects and error is last.error:
            return exchange
        end = last.started + last.latency
        result = last._replace(
            started=first.started, latency=end - first.started, error=error, detail=detail,
            redirects=redirects, connect=None, wait=None, receive=None, queued=first.queued,
        )  # fmt: skip
        return Exchange(result, exchange.headers, exchange.body)

    async def _hop(
        self, spec: RequestSpec, target: str, headers: dict[str, str], body: bytes | None,
        keep_headers: bool, intended: float | None,
    ) -> Exchange:  # fmt: skip
        """One request of a step (or of its redirects) to `target` (from the origin), with
        the user's cookies. A request that cannot be written (a line break or a
        character HTTP/1.1 cannot carry in its target or a header) fails, unsent."""
        sent = dict(headers)
        if self._jar is not None:
            cookie = self._jar.header(target)
            if cookie is not None:
                sent["Cookie"] = cookie
        prepared = self._by_name[spec.name]
        if spec is not prepared.spec:
            prepared = Prepared(spec, self._host_header, self._prefix, prepared.max_body)
        try:
            prepared = prepared.for_user(target, sent, body, keep_headers=keep_headers)
        except (ValueError, UnicodeError) as exc:  # InvalidRequest among them
            detail = f"{spec.name}: not sent: {exc}"
            failed = await _unsent(spec.name, detail, intended, unsendable(exc))
            return Exchange(failed, {}, b"")
        self._kept = None
        result = await self._send(prepared, intended)
        kept, self._kept = self._kept, None
        if kept is None:
            return Exchange(result, {}, b"")
        if self._jar is not None and kept.set_cookies:
            self._jar.extract(target, kept.set_cookies)
        return Exchange(result, kept.headers, kept.content())

    def keep(self, response: Response) -> None:
        self._kept = response

    async def _send(self, prepared: Prepared, intended: float | None) -> RequestResult:
        self.begin(prepared, intended)
        self._connect = None
        try:
            if self.needs_connection():
                self._connect = await self.connect()
        except Failure as failure:
            return self.failed(failure.kind, failure.detail)
        except Exception as exc:  # never out of the engine: a failed request is data
            return self.failed(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
        waiter: asyncio.Future[RequestResult] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.write()
        return (await waiter)._replace(connect=self._connect)

    def succeeded(
        self, prepared: Prepared, now: float, status: int, size: int, first: float
    ) -> None:
        started = self.started
        result = RequestResult(
            prepared.name, started, now - started, status, size, None, "", self.queued,
            wait=first - self.written, receive=now - first,
        )  # fmt: skip
        self.ended(result, now)

    def ended(self, result: RequestResult, now: float) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    def crash(self, exc: Exception) -> None:
        """A bug in perfrun surfaces from the awaiting `send`."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            raise exc
        waiter.set_exception(exc)

    async def aclose(self) -> None:
        self.close()


async def _unsent(
    name: str, detail: str, intended: float | None, kind: ErrorKind = ErrorKind.INVALID_REQUEST
) -> RequestResult:
    """The result of a request that could not be sent (`invalid_request`, see
    `perfrun.engine.fast_flow.unsendable`)."""
    await asyncio.sleep(0)  # nothing was sent: let the other users and signals run
    now = time.perf_counter()
    queued = now - intended if intended is not None and now > intended else 0.0
    return RequestResult(name, now, 0.0, 0, 0, kind, detail, queued)


class FastEngine:
    """Runs the load models as callbacks on its connections; also hands out one
    `FastSession` (one keep-alive connection) per caller that awaits its requests."""

    name = "fast"

    def __init__(
        self, base_url: str, timeout: float, requests: Sequence[RequestSpec],
        tls: TlsSpec = CHECKED_TLS, debug: HttpDebug | None = None, max_body: int = MAX_BODY,
    ) -> None:  # fmt: skip
        """`debug` (--http-debug): show the first exchanges, through a `DebugDialer`'s
        traced connections; without it the plain classes, untouched. `max_body`: the
        most bytes of a response body kept for a check or a capture (see
        `perfrun.engine.limits`)."""
        parts = urlsplit(base_url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"the fast engine needs an http:// or https:// URL, got {base_url}")
        self.timeout = timeout
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        ssl_context = tls_context(tls) if parts.scheme == "https" else None
        default = parts.port is None or parts.port == DEFAULT_PORTS[parts.scheme]
        host_header = parts.hostname if default else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            host_header = f"[{parts.hostname}]" + ("" if default else f":{parts.port}")
        prefix = parts.path.rstrip("/")
        self.origin = f"{parts.scheme}://{host_header}"
        """Scheme, host and port: where cookies are kept for, and redirects followed."""
        self.host_header, self.prefix = host_header, prefix
        self.prepared = {
            spec.name: Prepared(spec, host_header, prefix, max_body) for spec in requests
        }
        self._unsendable = any(p.invalid is not None for p in self.prepared.values())
        """A request the loader should have refused: the load models then run on
        sessions, which fail it unsent, so the callbacks' hot path checks nothing."""
        full = any(p.keep_headers or p.keep_body for p in self.prepared.values())
        if debug is None:
            self.dialer = Dialer(parts.hostname, port, ssl_context, timeout, full=full)
        else:
            self.dialer = DebugDialer(
                parts.hostname, port, ssl_context, timeout, full=full, tracer=Tracer(debug)
            )

    def session(self) -> FastSession:
        return FastSession(self)

    def in_flight(self) -> int:
        """Requests awaiting their response now (see `InFlightGauge`)."""
        return self.dialer.in_flight()

    def backoffs(self) -> Backoffs:
        """Its users' waits for a target whose connects kept failing (`BackoffGauge`)."""
        return self.dialer.backoffs

    async def run_closed(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        """The closed model (`perfrun.engine.closed.run_closed`), as callbacks."""
        if self._unsendable:
            await SessionLoads(self).run_closed(load, requests, stats, start=start,
                                                share=share, seed=seed)  # fmt: skip
            return
        await run_closed(load, self._mix(requests, stats), self.dialer, stats, start=start,
                         share=share, seed=seed)  # fmt: skip

    async def run_closed_stages(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        """The staged closed model (`perfrun.engine.closed.run_closed_stages`), as callbacks."""
        if self._unsendable:
            await SessionLoads(self).run_closed_stages(load, requests, stats, start=start,
                                                       share=share, seed=seed)  # fmt: skip
            return
        await run_closed_stages(load, self._mix(requests, stats), self.dialer, stats,
                                start=start, share=share, seed=seed)  # fmt: skip

    async def run_open(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
        cookies: bool = False, max_redirects: int = 0,
    ) -> None:  # fmt: skip
        """The open model (`perfrun.engine.open.run_open`), as callbacks."""
        if self._unsendable:
            await SessionLoads(self).run_open(load, requests, stats, start=start, share=share,
                                              seed=seed, cookies=cookies,
                                              max_redirects=max_redirects)  # fmt: skip
            return
        if max_redirects:  # connections that see a redirect's Location and Set-Cookie
            full = any(p.keep_headers for p in self.prepared.values())
            self.dialer.kind = WatchingFullConnection if full else RedirectWatchingConnection
        await run_open(load, self._mix(requests, stats), self.dialer, stats, start=start,
                       share=share, seed=seed, origin=self.origin,
                       host_header=self.host_header, prefix=self.prefix,
                       max_redirects=max_redirects, cookies=cookies)  # fmt: skip

    async def run_flow(
        self, load: LoadSpec, steps: tuple[RequestSpec, ...], data: Data | None,
        stats: ScenarioStats, *, start: float, share: Share = Share.WHOLE,
        seed: int | None = None, cookies: bool = True, max_redirects: int = 10,
        weighted: bool = False,
    ) -> None:  # fmt: skip
        """Flows (`perfrun.engine.flow.run_flow`), as callbacks."""
        plans = [StepPlan(self.prepared[s.name], self.host_header, self.prefix) for s in steps]
        # Connections that read Set-Cookie and Location (and Content-Encoding, for a body
        # a capture reads) from the head's bytes; all headers when a check or capture
        # reads them.
        headers = any(plan.keep_headers for plan in plans)
        self.dialer.kind = WatchingFullConnection if headers else WatchingConnection
        await fast_flow.run_flow(
            load, plans, data, self.dialer, stats, origin=self.origin, prefix=self.prefix,
            start=start, share=share, seed=seed, cookies=cookies, max_redirects=max_redirects,
            weighted=weighted,
        )  # fmt: skip

    def _mix(self, requests: tuple[RequestSpec, ...], stats: ScenarioStats) -> Mix[Prepared]:
        """The weighted mix of the prepared requests (the same draws as a RequestMix),
        each recording into its endpoint's figures in `stats`."""
        return Mix(
            [self.prepared[spec.name].bound(stats.endpoint(spec.name)) for spec in requests],
            (r.weight for r in requests),
        )

    async def aclose(self) -> None:
        """Stop the watchdog; every user closes its own connection."""
        await self.dialer.aclose()
