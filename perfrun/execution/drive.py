"""One event loop driving one share of a scenario's load.

The whole load in a single-process run, or worker k's share of it in a multi-process
run: build the engine from the factory given, start at the agreed time, run the load
model, and alongside it probe the event loop's lag, report progress, and give up on an
unreachable target.
A stop signal cancels the load; what was measured until then stays in `stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any

from perfrun.engine.backoff import BackoffGauge, Backoffs
from perfrun.engine.base import Engine, EngineFactory, FlowRunner, InFlightGauge, LoadRunner
from perfrun.engine.executors import load_runner
from perfrun.engine.flow import run_flow
from perfrun.engine.lag import probe_loop_lag
from perfrun.engine.pacer import Pacer
from perfrun.engine.profile import rate_profile
from perfrun.engine.share import Share
from perfrun.engine.timing import sleep_until
from perfrun.execution.abort import AbortWatch
from perfrun.metrics.result import ErrorKind
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadModel, LoadSpec, Scenario

PROGRESS_INTERVAL = 0.5
UNREACHABLE_AFTER = 3.0
"""Seconds into the load of the first check for an unreachable target."""
UNREACHABLE_EVERY = 0.5
"""Seconds between the later checks, until a request reaches the target."""

Tick = Callable[[ScenarioStats], None]
Poll = tuple[float, Callable[[], None]]
"""(every, work): something to run on the load's loop every so many seconds, e.g. the
resource monitor's sampling (see perfrun.execution.monitor.Monitor)."""


def drive(
    scenario: Scenario,
    engine: EngineFactory,
    stats: ScenarioStats,
    *,
    share: Share = Share.WHOLE,
    start_at: float | None = None,
    tick: Tick | None = None,
    poll: Poll | None = None,
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
    unreachable_after: float = UNREACHABLE_AFTER,
    unreachable_every: float = UNREACHABLE_EVERY,
    cycle_end: Callable[[], None] | None = None,
    abort: AbortWatch | None = None,
    gone: Callable[[], bool] | None = None,
    backoffs: Backoffs | None = None,
) -> bool:
    """Run the load in a new event loop, on the engine `engine()` builds there; True when
    a stop signal interrupted it.

    With `backoffs`, the closed model's waits for a target whose connects kept failing
    are counted into it (see perfrun.engine.backoff), also when interrupted.

    With `gone` (whether a launched target has exited), the load stops within
    GONE_CHECK seconds of the target's exit: what is left would only be refused.

    With an `abort` watch, the load is cancelled as soon as one of its thresholds fails
    (checked just after each whole second of the load); `abort.aborted` then says which.

    The load starts at `start_at` (a perf_counter time: workers start together) or at
    once; `stats` is rebased to that moment. `tick` is called every PROGRESS_INTERVAL,
    and `poll`'s work every `poll[0]` seconds; `cycle_end` at the end of each leak cycle's
    rest (see LoadSpec.cycles).
    The load is cancelled when the target is `unreachable`, checked `unreachable_after`
    seconds into it and then every `unreachable_every` seconds until a request reaches it.
    """
    with asyncio.Runner(loop_factory=_loop_factory()) as runner, _frozen_heap():
        return runner.run(
            _drive(
                scenario,
                engine,
                stats,
                share=share,
                start_at=start_at,
                tick=tick,
                poll=poll,
                signals=signals,
                unreachable_after=unreachable_after,
                unreachable_every=unreachable_every,
                cycle_end=cycle_end,
                abort=abort,
                gone=gone,
                backoffs=backoffs,
            )
        )


SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers


def _handler(sig: signal.Signals) -> SignalHandler:
    """The signal's handler now; SIG_DFL for one set outside Python (which reads as None
    and could not be put back)."""
    handler = signal.getsignal(sig)
    return handler if handler is not None else signal.SIG_DFL


class _StopSignals:
    """While installed, a stop signal cancels the load and puts the previous handlers back,
    so a second Ctrl-C interrupts the clean-up too. A signal ignored when perfrun started
    (`perfrun ... &` in a script ignores SIGINT) stays ignored, as it does outside the load:
    the same signal means the same at any time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, signals: tuple[signal.Signals, ...]):
        self.loop = loop
        self.received = False
        self.load: asyncio.Task[None] | None = None
        self.previous = {sig: h for sig in signals if (h := _handler(sig)) is not signal.SIG_IGN}
        for sig in self.previous:
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        self.received = True
        if self.load is not None:
            self.load.cancel()
        self.restore()

    def restore(self) -> None:
        """Put the previous handlers back (once; later calls do nothing)."""
        for sig, handler in self.previous.items():
            self.loop.remove_signal_handler(sig)
            signal.signal(sig, handler)  # remove_signal_handler leaves SIG_DFL behind
        self.previous = {}


async def _drive(
    scenario: Scenario,
    factory: EngineFactory,
    stats: ScenarioStats,
    *,
    share: Share,
    start_at: float | None,
    tick: Tick | None,
    poll: Poll | None,
    signals: tuple[signal.Signals, ...],
    unreachable_after: float,
    unreachable_every: float,
    cycle_end: Callable[[], None] | None,
    abort: AbortWatch | None = None,
    gone: Callable[[], bool] | None = None,
    backoffs: Backoffs | None = None,
) -> bool:
    engine = factory()
    loads = load_runner(engine)
    stop = _StopSignals(asyncio.get_running_loop(), signals)
    helpers: list[asyncio.Task[None]] = []
    try:
        if start_at is not None:
            await sleep_until(start_at)
        if stop.received:
            return True
        stats.rebase(start_at if start_at is not None else time.perf_counter())
        load = stop.load = asyncio.create_task(
            _cycles(scenario, engine, loads, stats, share, cycle_end)
        )
        helpers = [
            asyncio.create_task(probe_loop_lag(stats.loop_lag)),
            asyncio.create_task(
                _give_up_if_unreachable(
                    stats, load, after=unreachable_after, every=unreachable_every
                )
            ),
            asyncio.create_task(_sample_each_second(stats, engine)),
        ]
        if tick is not None:
            helpers.append(asyncio.create_task(_ticker(tick, stats)))
        if poll is not None:
            helpers.append(asyncio.create_task(_poller(*poll)))
        if abort:
            helpers.append(asyncio.create_task(_abort_on_failure(abort, stats, load)))
        if gone is not None:
            helpers.append(asyncio.create_task(_stop_when(gone, load)))
        with contextlib.suppress(asyncio.CancelledError):
            await load
        stats.timeline.sample(None, *_gauges(stats, engine, at_second_end=False))
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        if backoffs is not None and isinstance(loads, BackoffGauge):
            backoffs.merge(loads.backoffs())
        await engine.aclose()
        stop.restore()
    return stop.received


async def _cycles(
    scenario: Scenario,
    engine: Engine,
    loads: LoadRunner,
    stats: ScenarioStats,
    share: Share,
    cycle_end: Callable[[], None] | None,
) -> None:
    """The load model, run once, or `cycles` times each followed by its `rest` (leak
    cycles): the next cycle starts when the rest ends, its requests recorded on the same
    clock, and the rests between cycles are left out of the measured window."""
    load = scenario.load
    start = stats.origin
    for cycle in range(load.cycles):
        await _executor(scenario, engine, loads, stats, share, start)
        if load.model is LoadModel.OPEN:
            stats.schedule_end = start + rate_profile(load).duration
        if load.cycles == 1 and load.rest == 0:
            return
        rest_from = time.perf_counter()
        await asyncio.sleep(load.rest)
        if cycle_end is not None:
            cycle_end()
        start = time.perf_counter()
        if cycle < load.cycles - 1:
            stats.pause(rest_from, start)


def _executor(
    scenario: Scenario, engine: Engine, runner: LoadRunner, stats: ScenarioStats, share: Share,
    start: float,
) -> Coroutine[Any, Any, None]:  # fmt: skip
    """The coroutine that runs the scenario's load model, starting at `start`: `runner`'s
    (`load_runner(engine)`: the engine's own when it runs the models itself, see
    perfrun.engine.executors)."""
    load, requests = scenario.load, scenario.requests
    if scenario.flow or per_user(scenario):
        weighted = not scenario.flow
        if isinstance(engine, FlowRunner):
            return engine.run_flow(load, requests, scenario.data, stats, start=start,
                                   share=share, cookies=scenario.cookies,
                                   max_redirects=scenario.max_redirects,
                                   weighted=weighted)  # fmt: skip
        backoffs = runner.backoffs() if isinstance(runner, BackoffGauge) else None
        return run_flow(load, requests, scenario.data, engine, stats.record, start=start,
                        share=share, cookies=scenario.cookies,
                        max_redirects=scenario.max_redirects, weighted=weighted,
                        backoffs=backoffs)  # fmt: skip
    # No seed: each process seeds its random draws from os.urandom, so workers differ.
    if load.model is LoadModel.OPEN:
        return runner.run_open(load, requests, stats, start=start, share=share,
                               cookies=scenario.cookies,
                               max_redirects=scenario.max_redirects)  # fmt: skip
    if load.stages:
        return runner.run_closed_stages(load, requests, stats, start=start, share=share)
    return runner.run_closed(load, requests, stats, start=start, share=share)


def per_user(scenario: Scenario) -> bool:
    """Whether a `requests:` mix runs as a flow of one request drawn by weight, its users
    each with their own variables, cookies and redirects: in the closed model (users,
    fixed or staged; a rate load sends each request on its own), when it has templates
    or data, keeps cookies or follows redirects (both by default). (A rate load's
    requests follow their redirects on their own, their cookies kept along the chain.)"""
    load = scenario.load
    if load.model is not LoadModel.CLOSED:
        return False
    templated = any(spec.templated is not None for spec in scenario.requests)
    return templated or scenario.data is not None or scenario.cookies or scenario.max_redirects > 0


async def _ticker(tick: Tick, stats: ScenarioStats) -> None:
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL)
        tick(stats)


ABORT_CHECK_DELAY = 0.05
"""Seconds after a whole second of the load before its windows are judged: responses
completing right at the boundary are counted in by then."""


async def _abort_on_failure(
    abort: AbortWatch, stats: ScenarioStats, load: asyncio.Task[None]
) -> None:
    """Once a second, judge the `abort: true` thresholds; cancel the load when one fails."""
    second = 1
    while True:
        await sleep_until(stats.origin + second + ABORT_CHECK_DELAY)
        now = time.perf_counter()
        if abort.check(stats, now) is not None:
            load.cancel()
            return
        second = int(now - stats.origin) + 1


async def _sample_each_second(stats: ScenarioStats, engine: Engine) -> None:
    """At the end of each second of the load, sample into its timeline what is not
    counted per request (see perfrun.metrics.timeline.Gauge)."""
    second = 0
    while True:
        await sleep_until(stats.origin + second + 1)
        second = int(time.perf_counter() - stats.origin)
        stats.timeline.sample(second - 1, *_gauges(stats, engine, at_second_end=True))


def _gauges(stats: ScenarioStats, engine: Engine, *, at_second_end: bool) -> tuple[int, int | None]:
    """The bytes received so far, and the requests in flight now: in the open model, sent
    minus completed; else as the engine counts them, if it can (an InFlightGauge); None
    when not known, or not at a second's end."""
    parts = (stats.warmup, *stats.endpoints.values())
    received = sum(p.bytes_received for p in parts)
    if not at_second_end:
        return received, None
    if stats.scheduled:
        in_flight = stats.schedule.sent - sum(p.total for p in parts)
        return received, in_flight if in_flight >= 0 else None  # None: sends not counted
    return received, engine.in_flight() if isinstance(engine, InFlightGauge) else None


async def _poller(every: float, work: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(every)
        work()


def expected_load(load: LoadSpec) -> tuple[int | None, float | None]:
    """How many requests (when known in advance) and how long the load asks for."""
    if load.model is LoadModel.OPEN:
        profile = rate_profile(load)
        rested = (profile.duration + load.rest) * load.cycles
        return Pacer(profile).expected() * load.cycles, rested
    if load.requests_per_user is not None:
        return load.users * load.requests_per_user * load.cycles, None
    if load.duration is None:
        return None, None
    return None, (load.duration + load.rest) * load.cycles


GONE_CHECK = 0.1
"""Seconds between looks at whether a launched target has exited."""


async def _stop_when(gone: Callable[[], bool], load: asyncio.Task[None]) -> None:
    """Cancel the load once `gone()` (the launched target exited)."""
    while not gone():
        await asyncio.sleep(GONE_CHECK)
    load.cancel()


async def _give_up_if_unreachable(
    stats: ScenarioStats, load: asyncio.Task[None], *, after: float, every: float
) -> None:
    """Cancel the load once the target is `unreachable`, checked `after` seconds into the
    load and then every `every` seconds: hammering a closed port for the whole duration
    tells nothing, and a target that drops connects shows no result at all until its
    connect timeouts come in, after the first check. Stops checking once a request
    reached the target, after which `unreachable` can never hold again."""
    await asyncio.sleep(after)
    while not _reached(stats):
        if unreachable(stats):
            load.cancel()
            return
        await asyncio.sleep(every)


def _reached(stats: ScenarioStats) -> bool:
    """Some request got through to the target: it succeeded, or failed after connecting.
    Reads the parts as they are, without merging histograms."""
    parts = (stats.warmup, *stats.endpoints.values())
    return any(
        p.succeeded or any(not ErrorKind(kind).is_connect_failure for kind in p.errors)
        for p in parts
    )


def unreachable(stats: ScenarioStats) -> bool:
    """Requests were sent (warm-up included) and not one could connect."""
    parts = (stats.overall, stats.warmup)
    sent = sum(p.total for p in parts)
    kinds = [kind for p in parts for kind in p.errors]
    return (
        sent > 0
        and all(ErrorKind(kind).is_connect_failure for kind in kinds)
        and not any(p.succeeded for p in parts)
    )


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off everything alive before the load: a full
    collection over perfrun's imported modules takes ~35 ms, long enough to send
    requests late and stall every response in flight, inflating the figures.

    Nothing is collected first: that full collection would walk the whole heap once
    per run (~35 ms in perfrun's own process, 0.15-0.6 s in a test suite that calls
    `perfrun.run`, whose heap it walks too). The garbage frozen with the rest waits
    for the first collection after the load (`unfreeze`)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed: a cheaper event loop leaves more CPU for requests."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
