"""The engine interface every HTTP engine implements.

An engine hands out one `Session` per virtual user: its own connection(s), so users
never contend for a shared pool. `send` never raises for a failed request; the failure
is in the returned `RequestResult`. What runs the load gets an `EngineFactory`, not an
engine: production passes a real engine's recipe (`perfrun.engine.factory`), tests a
scripted engine without sockets (like httpx's MockTransport).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeAlias

from perfrun.metrics.result import RequestResult
from perfrun.scenario.model import RequestSpec


class Session(Protocol):
    async def send(self, request: RequestSpec, intended: float | None = None) -> RequestResult:
        """Send one request. `intended` (a perf_counter time) is when the schedule wanted
        it sent; the result's `queued` is how late it actually went."""
        ...

    async def aclose(self) -> None: ...


class Engine(Protocol):
    name: str

    def session(self) -> Session: ...

    async def aclose(self) -> None: ...


EngineFactory: TypeAlias = Callable[[], Engine]
"""Builds the engine, inside the event loop that will use it."""
