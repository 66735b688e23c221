"""Runs scenarios one after another: target, monitor, load, and what was measured.

Each scenario runs in its own event loop with its own engine and clients, its own demo
target process and its own monitor thread, so nothing one scenario leaves behind
(pools, threads, a warmed-up or bloated target) can colour the next one's numbers.
Ctrl-C or SIGTERM stops the load at once; what was measured until then is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psutil

from perfrun.demo.process import DemoTarget
from perfrun.engine.base import Engine
from perfrun.engine.closed import run_closed, run_closed_stages
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.engine.lag import probe_loop_lag
from perfrun.engine.open import run_open
from perfrun.engine.pacer import Pacer
from perfrun.engine.profile import rate_profile
from perfrun.engine.result import ErrorKind
from perfrun.errors import PerfrunError
from perfrun.metrics.stats import ScenarioStats
from perfrun.monitor import Monitor, MonitorResult, Sample, find_process, open_target
from perfrun.scenario.model import LoadModel, LoadSpec, Scenario

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PROGRESS_INTERVAL = 0.5
UNREACHABLE_AFTER = 3.0
"""Seconds of nothing but connection failures after which a scenario gives up."""

COMPLETED = "completed"
INTERRUPTED = "interrupted"
UNREACHABLE = "unreachable"
FAILED = "failed"
"""Scenario statuses: only `completed` scenarios are judged by their thresholds."""


@dataclass(frozen=True)
class RunOptions:
    """What the command line can override for every scenario."""

    base_url: str | None = None
    monitor_pid: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """Live figures for the progress display."""

    elapsed: float
    done: int
    expected_requests: int | None
    expected_duration: float | None
    rps: float
    p95_ms: float | None
    errors: int
    resources: Sample | None
    warming_up: bool = False


@dataclass(frozen=True)
class ScenarioOutcome:
    """What running one scenario produced, before any judgement."""

    scenario: Scenario
    base_url: str
    engine: str
    started_at: datetime
    finished_at: datetime
    status: str
    message: str
    stats: ScenarioStats
    monitor: MonitorResult | None


class Progress(Protocol):
    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def scenario_finished(self, outcome: ScenarioOutcome) -> None: ...


def run_scenarios(
    scenarios: Sequence[Scenario], options: RunOptions, progress: Progress
) -> Iterator[ScenarioOutcome]:
    """Run each scenario in turn, yielding its outcome; stop after one that was interrupted."""
    for index, scenario in enumerate(scenarios):
        outcome = run_scenario(scenario, options, progress, index, len(scenarios))
        yield outcome
        if outcome.status == INTERRUPTED:
            return


def run_scenario(
    scenario: Scenario, options: RunOptions, progress: Progress, index: int = 0, count: int = 1
) -> ScenarioOutcome:
    """Run one scenario in a fresh event loop; never raises for a failure of the run."""
    started_at = datetime.now(UTC)
    stats = ScenarioStats(time.perf_counter(), scenario.load.warmup)
    base_url = options.base_url or scenario.base_url
    try:
        with contextlib.ExitStack() as stack:
            demo_pid = None
            if base_url == "demo":
                demo = stack.enter_context(DemoTarget())
                base_url, demo_pid = demo.base_url, demo.pid
            monitor = Monitor(_target(scenario, options, demo_pid), scenario.monitor.interval)
            progress.scenario_started(scenario, index, count, base_url)
            monitor.start()
            try:
                interrupted = _run_loop(scenario, base_url, stats, monitor, progress)
            finally:
                monitor_result = monitor.stop()
    except PerfrunError as exc:
        outcome = ScenarioOutcome(
            scenario, base_url, HttpxEngine.name, started_at, _now(), FAILED, str(exc), stats, None
        )
        progress.scenario_finished(outcome)
        return outcome
    except KeyboardInterrupt:
        outcome = ScenarioOutcome(
            scenario, base_url, HttpxEngine.name, started_at, _now(), INTERRUPTED,
            "interrupted: the figures cover the run until then", stats, None,
        )  # fmt: skip
        progress.scenario_finished(outcome)
        return outcome
    status, message = _status(stats, base_url, interrupted)
    outcome = ScenarioOutcome(
        scenario, base_url, HttpxEngine.name, started_at, _now(), status, message, stats,
        monitor_result,
    )  # fmt: skip
    progress.scenario_finished(outcome)
    return outcome


def _target(scenario: Scenario, options: RunOptions, demo_pid: int | None) -> psutil.Process | None:
    """The process to monitor: --monitor-pid, then monitor.pid / .process, then the demo."""
    if options.monitor_pid is not None:
        return open_target(options.monitor_pid)
    if scenario.monitor.pid is not None:
        return open_target(scenario.monitor.pid)
    if scenario.monitor.process is not None:
        return find_process(scenario.monitor.process)
    if demo_pid is not None:
        return open_target(demo_pid)
    return None


def _run_loop(
    scenario: Scenario, base_url: str, stats: ScenarioStats, monitor: Monitor, progress: Progress
) -> bool:
    """Drive the load in a new event loop; True when it was interrupted."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner, _frozen_heap():
        return runner.run(_drive(scenario, base_url, stats, monitor, progress))


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off everything alive before the load: a full
    collection over perfrun's imported modules takes ~35 ms, long enough to send
    requests late and stall every response in flight, inflating the figures."""
    gc.collect()
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


async def _drive(
    scenario: Scenario, base_url: str, stats: ScenarioStats, monitor: Monitor, progress: Progress
) -> bool:
    loop = asyncio.get_running_loop()
    engine = HttpxEngine(base_url, scenario.load.timeout, scenario.requests)
    stats.rebase(time.perf_counter())
    load = asyncio.create_task(_executor(scenario, engine, stats))
    interrupted = False
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def restore_handlers() -> None:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)  # remove_signal_handler leaves SIG_DFL behind

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        load.cancel()
        restore_handlers()  # a second Ctrl-C interrupts the clean-up too

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    helpers = [
        asyncio.create_task(probe_loop_lag(stats.loop_lag)),
        asyncio.create_task(_tick(scenario, stats, monitor, progress)),
        asyncio.create_task(_give_up_if_unreachable(stats, load)),
    ]
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await load
        if load.done() and not load.cancelled() and scenario.load.model is LoadModel.OPEN:
            stats.schedule_end = stats.origin + rate_profile(scenario.load).duration
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        await engine.aclose()
        if not interrupted:
            restore_handlers()
    return interrupted


def _executor(
    scenario: Scenario, engine: Engine, stats: ScenarioStats
) -> Coroutine[Any, Any, None]:
    """The coroutine that runs the scenario's load model, starting at stats.origin."""
    load, requests, start = scenario.load, scenario.requests, stats.origin
    if load.model is LoadModel.OPEN:
        return run_open(load, requests, engine, stats.record, stats.schedule, start=start)
    if load.stages:
        return run_closed_stages(load, requests, engine, stats.record, start=start)
    return run_closed(load, requests, engine, stats.record, start=start)


async def _tick(
    scenario: Scenario, stats: ScenarioStats, monitor: Monitor, progress: Progress
) -> None:
    expected, duration = expected_load(scenario.load)
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL)
        elapsed = time.perf_counter() - stats.origin
        last_second = int(elapsed) - 1
        progress.update(
            Snapshot(
                elapsed=elapsed,
                done=stats.overall.total + stats.warmup.total,
                expected_requests=expected,
                expected_duration=duration,
                warming_up=time.perf_counter() < stats.warmup_end,
                rps=float(stats.timeline.requests_in(last_second)) if last_second >= 0 else 0.0,
                p95_ms=stats.overall.latency.percentile_ms(95.0),
                errors=stats.overall.failed,
                resources=monitor.latest(),
            )
        )


def expected_load(load: LoadSpec) -> tuple[int | None, float | None]:
    """How many requests (when known in advance) and how long the load asks for."""
    if load.model is LoadModel.OPEN:
        return Pacer(rate_profile(load)).expected(), rate_profile(load).duration
    if load.requests_per_user is not None:
        return load.users * load.requests_per_user, None
    return None, load.duration


async def _give_up_if_unreachable(stats: ScenarioStats, load: asyncio.Task[None]) -> None:
    """Stop the load once UNREACHABLE_AFTER seconds have passed in which every request
    failed to connect: hammering a closed port for the whole duration tells nothing."""
    await asyncio.sleep(UNREACHABLE_AFTER)
    if _unreachable(stats):
        load.cancel()


def _unreachable(stats: ScenarioStats) -> bool:
    """Requests were sent (warm-up included) and not one could connect."""
    parts = (stats.overall, stats.warmup)
    sent = sum(p.total for p in parts)
    kinds = [kind for p in parts for kind in p.errors]
    return (
        sent > 0
        and all(ErrorKind(kind).is_connect_failure for kind in kinds)
        and not any(p.succeeded for p in parts)
    )


def _status(stats: ScenarioStats, base_url: str, interrupted: bool) -> tuple[str, str]:
    if interrupted:
        return INTERRUPTED, "interrupted: the figures cover the run until then"
    if _unreachable(stats):
        kinds = stats.overall.errors + stats.warmup.errors
        kind = kinds.most_common(1)[0][0]
        total = stats.overall.total + stats.warmup.total
        detail = stats.error_samples.get(kind, "")
        return UNREACHABLE, (
            f"target {base_url} unreachable: {kind} on all {total} requests"
            + (f" ({detail})" if detail else "")
        )
    if stats.overall.total == 0:
        return FAILED, "no request was measured" + (
            " after the warm-up" if stats.warmup.total else ""
        )
    return COMPLETED, ""


def _now() -> datetime:
    return datetime.now(UTC)
