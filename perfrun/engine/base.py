"""The engine interface every HTTP engine implements.

An engine hands out one `Session` per virtual user: its own connection(s), so users
never contend for a shared pool. `send` never raises for a failed request; the failure
is in the returned `RequestResult`. What runs the load gets an `EngineFactory`, not an
engine: production passes a real engine's recipe (`perfrun.engine.factory`), tests a
scripted engine without sockets (like httpx's MockTransport).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeAlias, runtime_checkable

from perfrun.engine.share import Share
from perfrun.metrics.result import RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.data import Data
from perfrun.scenario.model import LoadSpec, RequestSpec

Sink: TypeAlias = Callable[[RequestResult], None]
"""Where a load model hands every result."""


@dataclass(frozen=True)
class Rendered:
    """A flow step's request as rendered for one user and iteration: the path (with its
    query, relative to the base URL), every header value, the body."""

    path: str
    headers: Mapping[str, str]
    body: bytes | None


class Exchange(NamedTuple):
    """A request's result with what a flow step captures from: the response's headers
    (lower-case names) and body (decoded), when the step asked to keep them."""

    result: RequestResult
    headers: Mapping[str, str]
    body: bytes


class Session(Protocol):
    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        """Send one request. `intended` (a perf_counter time) is when the schedule wanted
        it sent; the result's `queued` is how late it actually went."""
        ...

    async def exchange(
        self, request: RequestSpec, rendered: Rendered | None, cookies: bool = True,
        max_redirects: int = 0, *, intended: float | None = None,
    ) -> Exchange:  # fmt: skip
        """Send a flow step, `rendered` for its user (None: its static form), keeping
        what its captures read; with `cookies`, the session's cookie jar sends and keeps
        cookies, else the session has none. Up to `max_redirects` redirects are
        followed (same origin only on the fast engine): one result for the chain.
        `intended`: a request on its own, sent by a schedule (the open model): its
        result counts from that time, as `send`'s, and its cookies live only for its
        redirect chain (it has no user whose jar they would join)."""
        ...

    async def aclose(self) -> None: ...


class Engine(Protocol):
    name: str

    def session(self) -> Session: ...

    async def aclose(self) -> None: ...


EngineFactory: TypeAlias = Callable[[], Engine]
"""Builds the engine, inside the event loop that will use it."""


@runtime_checkable
class LoadRunner(Protocol):
    """The load models, run from `start` (a perf_counter time) to completion, every
    result recorded into `stats`, only this worker's `share`.
    `perfrun.engine.executors.SessionLoads` runs them on any engine's sessions; an engine
    with a cheaper hot path runs them itself (the fast engine, as callbacks on its
    connections) by offering these three."""

    async def run_closed(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = ..., seed: int | None = None,
    ) -> None: ...  # fmt: skip

    async def run_closed_stages(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = ..., seed: int | None = None,
    ) -> None: ...  # fmt: skip

    async def run_open(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = ..., seed: int | None = None, cookies: bool = False,
        max_redirects: int = 0,
    ) -> None:  # fmt: skip
        """Each request follows up to `max_redirects` redirects; with `cookies`, those
        its chain sets go with the chain's next requests (a request on its own has no
        user, so no jar outlives it)."""
        ...


@runtime_checkable
class InFlightGauge(Protocol):
    """An engine that can tell how many of its requests await their response at any
    moment, by a sweep over its connections: sampled once a second into the timeline
    (perfrun.execution.drive), never counted per request."""

    def in_flight(self) -> int: ...


@runtime_checkable
class FlowRunner(Protocol):
    """Flows (`perfrun.engine.flow.run_flow`) run by an engine with a cheaper hot path
    (the fast engine's callbacks) than one coroutine per user on its sessions."""

    async def run_flow(
        self, load: LoadSpec, steps: tuple[RequestSpec, ...], data: Data | None,
        stats: ScenarioStats, *, start: float, share: Share = ..., seed: int | None = None,
        cookies: bool = True, max_redirects: int = 10, weighted: bool = False,
    ) -> None: ...  # fmt: skip
