"""Which code runs a load model on an engine: the one place that choice is made.

The coroutine executors (`closed`, `open`) run the models on any engine's sessions, one
awaited `send` per request: the httpx engine, and the scripted engine of the tests. An
engine with a cheaper hot path runs them itself by being a `LoadRunner` (the fast engine:
callbacks on its connections, no coroutine or future per request). The choice is a
capability, not an engine's name, so drive knows no engine class and a new engine
chooses for itself.
"""

from __future__ import annotations

from perfrun.engine import closed, open
from perfrun.engine.backoff import Backoffs
from perfrun.engine.base import Engine, LoadRunner
from perfrun.engine.share import Share
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadSpec, RequestSpec


class SessionLoads:
    """The load models on an engine's sessions (the coroutine executors)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._backoffs = Backoffs()

    def backoffs(self) -> Backoffs:
        """The closed model's waits for a failing target (see `BackoffGauge`)."""
        return self._backoffs

    async def run_closed(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        await closed.run_closed(load, requests, self.engine, stats.record, start=start,
                                share=share, seed=seed, backoffs=self._backoffs)  # fmt: skip

    async def run_closed_stages(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
    ) -> None:  # fmt: skip
        await closed.run_closed_stages(load, requests, self.engine, stats.record, start=start,
                                       share=share, seed=seed,
                                       backoffs=self._backoffs)  # fmt: skip

    async def run_open(
        self, load: LoadSpec, requests: tuple[RequestSpec, ...], stats: ScenarioStats, *,
        start: float, share: Share = Share.WHOLE, seed: int | None = None,
        cookies: bool = False, max_redirects: int = 0,
    ) -> None:  # fmt: skip
        await open.run_open(load, requests, self.engine, stats.record, stats.schedule,
                            start=start, share=share, seed=seed, cookies=cookies,
                            max_redirects=max_redirects)  # fmt: skip


def load_runner(engine: Engine) -> LoadRunner:
    """The engine itself when it runs the load models, else the coroutine executors."""
    return engine if isinstance(engine, LoadRunner) else SessionLoads(engine)
