"""The fast engine: HTTP/1.1 keep-alive on asyncio protocols, parsed by httptools (llhttp).

Built for load generation, not general use: one connection per user, request bytes
built once per endpoint, responses parsed in C, the body kept only when a check needs
it. TLS through the standard `ssl` module with one shared context. It does plain
HTTP/1.1 requests and responses (sized, chunked and read-until-close bodies, HEAD,
`Connection: close`); anything more (HTTP/2, proxies, redirects, cookies, auth flows)
is the httpx engine's job.

It runs the load models itself (`run_closed`, `run_closed_stages`, `run_open`: see
`perfrun.engine.fast_closed` and `fast_open`), as callbacks on its connections, which
costs half the CPU of a coroutine awaiting a future per request. `session()` and its
awaitable `send` remain for everything else (the conformance suite, scripted tests).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

from perfrun.engine.base import Exchange, Rendered
from perfrun.engine.cookies import Jar
from perfrun.engine.fast_closed import run_closed, run_closed_stages
from perfrun.engine.fast_open import run_open
from perfrun.engine.fast_wire import Dialer, Failure, Prepared, Requester, Response
from perfrun.engine.mix import Mix
from perfrun.engine.share import Share
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadSpec, RequestSpec

_DEFAULT_PORTS = {"http": 80, "https": 443}


class FastSession(Requester):
    """One virtual user's connection, opened on first use and reopened when closed; its
    `send` awaits one request."""

    __slots__ = ("_base_url", "_by_name", "_connect", "_jar", "_kept", "_waiter")

    def __init__(self, engine: FastEngine) -> None:
        super().__init__(engine.dialer)
        self._by_name = engine.prepared
        self._waiter: asyncio.Future[RequestResult] | None = None
        self._connect: float | None = None
        self._kept: Response | None = None
        self._jar: Jar | None = None
        """The user's cookies, from its first flow step (see `exchange`)."""
        self._base_url = engine.origin
        """Seconds the pending request spent opening its connection (None: reused)."""

    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        return await self._send(self._by_name[request.name], intended)

    async def exchange(
        self, request: RequestSpec, rendered: Rendered | None, cookies: bool = True
    ) -> Exchange:
        prepared = self._by_name[request.name]
        path = rendered.path if rendered is not None else None
        headers = dict(rendered.headers) if rendered is not None else {}
        if cookies:
            if self._jar is None:
                self._jar = Jar(self._base_url)
                self.dialer.full_connections()
            cookie = self._jar.header(path or request.path)
            if cookie is not None:
                headers["Cookie"] = cookie
        body = rendered.body if rendered is not None else None
        prepared = prepared.for_user(path, headers, body, keep_headers=cookies)
        self._kept = None
        result = await self._send(prepared, None)
        kept, self._kept = self._kept, None
        if kept is None:
            return Exchange(result, {}, b"")
        if self._jar is not None and kept.set_cookies:
            self._jar.extract(path or request.path, kept.set_cookies)
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


class FastEngine:
    """Runs the load models as callbacks on its connections; also hands out one
    `FastSession` (one keep-alive connection) per caller that awaits its requests."""

    name = "fast"

    def __init__(self, base_url: str, timeout: float, requests: Sequence[RequestSpec]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"the fast engine needs an http:// or https:// URL, got {base_url}")
        self.timeout = timeout
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        ssl_context = ssl.create_default_context() if parts.scheme == "https" else None
        default = parts.port is None or parts.port == _DEFAULT_PORTS[parts.scheme]
        host_header = parts.hostname if default else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            host_header = f"[{parts.hostname}]" + ("" if default else f":{parts.port}")
        prefix = parts.path.rstrip("/")
        self.origin = f"{parts.scheme}://{host_header}{prefix}"
        """The base URL without a trailing slash: where cookies are kept for."""
        self.prepared = {spec.name: Prepared(spec, host_header, prefix) for spec in requests}
        full = any(p.keep_headers or p.keep_body for p in self.prepared.values())
        self.dialer = Dialer(parts.hostname, port, ssl_context, timeout, full=full)

    def session(self) -> FastSession:
        return FastSession(self)

    async def run_closed(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        """The closed model (`perfrun.engine.closed.run_closed`), as callbacks."""
        await run_closed(load, self._mix(requests, stats), self.dialer, stats, start=start,
                         share=share, seed=seed)  # fmt: skip

    async def run_closed_stages(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        """The staged closed model (`perfrun.engine.closed.run_closed_stages`), as callbacks."""
        await run_closed_stages(load, self._mix(requests, stats), self.dialer, stats,
                                start=start, share=share, seed=seed)  # fmt: skip

    async def run_open(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        """The open model (`perfrun.engine.open.run_open`), as callbacks."""
        await run_open(load, self._mix(requests, stats), self.dialer, stats, start=start,
                       share=share, seed=seed)  # fmt: skip

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
