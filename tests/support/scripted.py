"""A scripted engine: the `Engine` protocol without sockets, like httpx's MockTransport.

Each request's outcome comes from a script, by the request's index (0-based, in the
order the engine was asked): it takes its scripted latency (a user or an in-flight slot
is really held that long), then answers a status — judged against the request's
`expect_status` as a real engine does — or fails with an error kind. The engine counts
what it was asked (requests per path, sessions opened and closed, the most in flight at
once), so a test of an executor can assert exact numbers.

    engine = ScriptedEngine(cycle(Outcome(), Outcome(status=503)))
    drive(scripted_scenario(load), lambda: engine, stats, signals=())
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perfrun.engine.base import Exchange, Rendered
from perfrun.engine.timing import sleep_until
from perfrun.metrics.result import ErrorKind, RequestResult, status_error
from perfrun.scenario.model import (
    LoadSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
)


@dataclass(frozen=True)
class Outcome:
    """One request's scripted outcome: after `latency` seconds (never fewer), a response
    with `status`, or, with `error`, no response at all (status 0)."""

    latency: float = 0.0
    status: int = 200
    error: ErrorKind | None = None
    bytes_received: int = 15


def fails(kind: ErrorKind, latency: float = 0.0) -> Outcome:
    """A request that fails with `kind` without a response (connect, timeout, reset, …)."""
    return Outcome(latency=latency, status=0, error=kind)


Script = Callable[[int], Outcome]
"""The outcome of the request with this index."""


def cycle(*outcomes: Outcome) -> Script:
    """Outcomes in turn, over and over: n requests get each exactly n / len times."""
    return lambda index: outcomes[index % len(outcomes)]


def first(count: int, outcome: Outcome, then: Outcome) -> Script:
    """`outcome` for the first `count` requests, `then` for the rest."""
    return lambda index: outcome if index < count else then


class ScriptedEngine:
    """An engine whose requests follow `script` (one outcome for all, a sequence taken
    in turn, or a function of the request's index) and which counts what it is asked."""

    name = "scripted"

    def __init__(self, script: Script | Outcome | Sequence[Outcome] = Outcome()) -> None:
        if isinstance(script, Outcome):
            script = cycle(script)
        elif not callable(script):
            script = cycle(*script)
        self.script: Script = script
        self.paths: Counter[str] = Counter()
        """Requests asked for, by path."""
        self.answered = 0
        """Requests that returned a result (a response or a failure)."""
        self.cancelled = 0
        """Requests cancelled before their scripted latency was over."""
        self.early = 0
        """Requests sent before their intended time (open model): never, when correct."""
        self.sessions: list[ScriptedSession] = []
        """Every session handed out, in order."""
        self.sessions_closed = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.peak_sessions = 0
        """The most sessions (virtual users, or pooled connections) open at once."""
        self.closed = False

    @property
    def asked(self) -> int:
        """Requests asked for."""
        return self.paths.total()

    @property
    def sessions_opened(self) -> int:
        return len(self.sessions)

    @property
    def open_sessions(self) -> int:
        return self.sessions_opened - self.sessions_closed

    def session(self) -> ScriptedSession:
        if self.closed:
            raise AssertionError("session() on a closed engine")
        session = ScriptedSession(self)
        self.sessions.append(session)
        self.peak_sessions = max(self.peak_sessions, self.open_sessions)
        return session

    async def aclose(self) -> None:
        self.closed = True


class ScriptedSession:
    """One user's session: sends one request at a time, as a real one does."""

    def __init__(self, engine: ScriptedEngine) -> None:
        self._engine = engine
        self._busy = False
        self.closed = False
        self.sent_at: list[float] = []
        """When each of its requests went out (perf_counter)."""
        self.rendered: list[Rendered | None] = []
        """What each flow step was rendered as (see `exchange`)."""

    async def exchange(
        self, request: RequestSpec, rendered: Rendered | None, cookies: bool = True,
        max_redirects: int = 0, *, intended: float | None = None,
    ) -> Exchange:  # fmt: skip
        """As `send`; the scripted response has no headers or body to capture from."""
        self.rendered.append(rendered)
        return Exchange(await self.send(request, intended), {}, b"")

    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        engine = self._engine
        if self.closed or self._busy:
            raise AssertionError("send() on a closed or busy session")
        started = time.perf_counter()
        self.sent_at.append(started)
        queued = max(started - intended, 0.0) if intended is not None else 0.0
        engine.early += intended is not None and started < intended
        outcome = engine.script(engine.asked)
        engine.paths[request.path] += 1
        engine.in_flight += 1
        engine.peak_in_flight = max(engine.peak_in_flight, engine.in_flight)
        self._busy = True
        try:
            if outcome.latency > 0:
                await sleep_until(started + outcome.latency)
            else:
                await asyncio.sleep(0)  # a real request always yields to the loop
        except asyncio.CancelledError:
            engine.cancelled += 1
            raise
        finally:
            engine.in_flight -= 1
            self._busy = False
        engine.answered += 1
        latency = time.perf_counter() - started
        if outcome.error is not None:
            return RequestResult(
                request.name, started, latency, 0, 0, outcome.error, "scripted", queued
            )
        error = None if outcome.status in request.expect_status else status_error(outcome.status)
        detail = f"status {outcome.status}" if error is not None else ""
        return RequestResult(
            request.name, started, latency, outcome.status, outcome.bytes_received, error,
            detail, queued,
        )  # fmt: skip

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self._engine.sessions_closed += 1


def scripted_scenario(load: LoadSpec, *requests: RequestSpec) -> Scenario:
    """A scenario with this load over `requests` (one GET / when none)."""
    return Scenario(
        name="scripted",
        type=ScenarioType.LOAD,
        severity=Severity.HIGH,
        base_url="scripted://",
        requests=requests or (RequestSpec(name="get"),),
        load=load,
    )
