"""One scenario's load split over N worker processes, one event loop each.

Python runs one event loop per core at most, so beyond one core's worth of requests
the load needs processes. Each worker takes its `Share` (every n-th user, every n-th
scheduled request), all start at the same instant, and each sends back its
`ScenarioStats`, which merge losslessly (HDR histograms travel encoded, never
re-sampled) into the parent's. The monitor stays in the parent and counts the
workers' CPU as the generator's.

Protocol over one pipe per worker: worker → ("ready",); parent → start time;
worker → ("progress", LiveFigures) every PROGRESS_INTERVAL; worker → ("done",
stats, interrupted, abort). The parent stops workers with SIGTERM; they ignore SIGINT (a
terminal's Ctrl-C reaches the whole process group) and let the parent decide.

`abort: true` thresholds: each worker judges the windows and the latency peak on its
share once a second and stops its share when one fails (its "done" then carries the
Abort); the parent judges the resource peaks on the monitor's samples. Either way the
parent then stops every worker, and the scenario reads as aborted, not interrupted.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from perfrun.engine.base import EngineFactory
from perfrun.engine.share import Share
from perfrun.errors import TargetError
from perfrun.execution.abort import Abort, AbortWatch
from perfrun.execution.data_out import DataPlan, DataRun
from perfrun.execution.drive import drive
from perfrun.metrics.stats import LiveFigures, ScenarioStats
from perfrun.scenario.model import Scenario

START_DELAY = 0.2
"""Seconds between the last worker reporting ready and the common start."""
READY_TIMEOUT = 60.0
STOP_GRACE = 15.0
"""Seconds a stopped worker gets to send what it measured before it is killed."""


@dataclass(frozen=True)
class _Job:
    scenario: Scenario
    engine: EngineFactory
    share: Share
    data: DataPlan | None = None


def run_workers(
    scenario: Scenario,
    engine: EngineFactory,
    count: int,
    stats: ScenarioStats,
    on_start: Callable[[list[int]], None],
    on_progress: Callable[[list[LiveFigures]], None],
    on_done: Callable[[], object] | None = None,
    abort: AbortWatch | None = None,
    gone: Callable[[], bool] | None = None,
    data: DataPlan | None = None,
) -> bool:
    """Run the scenario in `count` workers, merge their stats into `stats`; True when
    interrupted. `engine` reaches each worker pickled (spawned processes: a recipe such
    as `EngineRecipe`, not a closure), and each builds its own engine from it.
    `on_start` gets the workers' pids once they run; `on_done` is called once every
    worker has reported, while they still live (e.g. the monitor's last sample, which
    must still see their CPU). With an `abort` watch, a failing `abort: true` threshold
    (a worker's, or a resource peak the parent sees) stops every worker, and
    `abort.aborted` says which; so does `gone()` (a launched target exited) on a
    progress round. With `data`, each worker writes its part of the `--out` files
    (see perfrun.execution.data_out)."""
    pipes, processes = _spawn(scenario, engine, count, data)
    interrupted = False
    stopper: _Stopper | None = None
    received: dict[int, tuple[ScenarioStats, bool]] = {}
    """Filled as workers report, so an interrupt mid-way loses none of what came."""
    try:
        _await_ready(pipes, processes)
        on_start([p.pid for p in processes if p.pid is not None])
        start_at = time.perf_counter() + START_DELAY
        stats.rebase(start_at)
        for pipe in pipes:
            pipe.send(start_at)
        stopper = _Stopper(processes, abort, stats, gone)
        _collect(pipes, received, stopper.progress(on_progress), stopper=stopper)
    except KeyboardInterrupt:
        interrupted = True
        _stop(processes)
        _collect(pipes, received, None, timeout=STOP_GRACE)
    finally:
        if on_done is not None:
            on_done()
        _close(pipes, processes)
    stopped = stopper is not None and stopper.stopped
    for index in sorted(received):
        worker_stats, worker_interrupted = received[index]
        stats.merge(worker_stats)
        # Stopped by the parent (an abort, the target's exit): not an interruption.
        interrupted = interrupted or (worker_interrupted and not stopped)
    if len(received) < count and not interrupted:
        missing = count - len(received)
        raise TargetError(
            f"{missing} of {count} worker processes died during the run: "
            "their share is missing from the figures"
        )
    return interrupted


def _stop(processes: list[BaseProcess]) -> None:
    """Ask every live worker to stop (it sends what it measured, then exits)."""
    for worker in processes:
        if worker.pid is not None and worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)


class _Stopper:
    """Stops every worker once an `abort: true` threshold fails (one a worker judged on
    its share, its "done" says so, or a resource peak judged here on each progress), or
    once the launched target has exited (`gone`)."""

    def __init__(
        self, processes: list[BaseProcess], abort: AbortWatch | None, stats: ScenarioStats,
        gone: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        self.processes = processes
        self.abort = abort
        self.stats = stats
        self.gone = gone
        self.stopped = False

    def progress(
        self, on_progress: Callable[[list[LiveFigures]], None]
    ) -> Callable[[list[LiveFigures]], None]:
        """`on_progress`, then the resource peaks judged."""

        def both(parts: list[LiveFigures]) -> None:
            on_progress(parts)
            if self.stopped:
                return
            if self.gone is not None and self.gone():
                self.stop()
            elif self.abort is not None:
                at = time.perf_counter() - self.stats.origin
                if self.abort.check_resources(at) is not None:
                    self.stop()

        return both

    def worker_done(self, aborted: Abort | None) -> None:
        if aborted is not None and self.abort is not None and not self.stopped:
            self.abort.worker_aborted(aborted)
            self.stop()

    def stop(self) -> None:
        self.stopped = True
        _stop(self.processes)


def _spawn(
    scenario: Scenario, engine: EngineFactory, count: int, data: DataPlan | None = None
) -> tuple[list[Connection], list[BaseProcess]]:
    """Start `count` workers, each with its share and one end of its own pipe."""
    context = multiprocessing.get_context("spawn")  # no fork: the monitor thread runs
    pipes: list[Connection] = []
    processes: list[BaseProcess] = []
    for index in range(count):
        parent_end, child_end = context.Pipe()
        job = _Job(scenario, engine, Share(index, count), data)
        process = context.Process(
            target=_worker_main, args=(child_end, job), name=f"perfrun-worker-{index}"
        )
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    return pipes, processes


def _close(pipes: list[Connection], processes: list[BaseProcess]) -> None:
    """Close the pipes (a worker still waiting for its start time gets EOF and leaves), then
    wait for each worker, killing one that has not left within STOP_GRACE."""
    for pipe in pipes:
        pipe.close()
    for worker in processes:
        worker.join(timeout=STOP_GRACE)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _await_ready(pipes: list[Connection], processes: list[BaseProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = set(range(len(pipes)))
    while waiting:
        ready = wait([pipes[i] for i in waiting], timeout=max(deadline - time.monotonic(), 0))
        if not ready:
            raise TargetError(f"{len(waiting)} worker process(es) did not start in time")
        for pipe in ready:
            index = pipes.index(pipe)  # type: ignore[arg-type]
            try:
                pipes[index].recv()  # ("ready",)
            except EOFError:
                code = processes[index].exitcode
                raise TargetError(f"worker process {index} died while starting ({code})") from None
            waiting.discard(index)


def _collect(
    pipes: list[Connection],
    results: dict[int, tuple[ScenarioStats, bool]],
    on_progress: Callable[[list[LiveFigures]], None] | None,
    timeout: float | None = None,
    stopper: _Stopper | None = None,
) -> None:
    """Read progress until every worker sent its stats into `results` (or died, or time
    ran out)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    latest: dict[int, LiveFigures] = {}
    open_pipes = {i: pipe for i, pipe in enumerate(pipes) if i not in results}
    while open_pipes:
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if remaining == 0.0:
            break
        for pipe in wait(list(open_pipes.values()), timeout=remaining):
            index = pipes.index(pipe)  # type: ignore[arg-type]
            try:
                message = pipes[index].recv()
            except EOFError:  # died: the caller counts the missing result
                del open_pipes[index]
                continue
            if message[0] == "progress":
                latest[index] = message[1]
                if on_progress is not None and len(latest) == len(pipes):
                    on_progress(list(latest.values()))
            elif message[0] == "done":
                results[index] = (message[1], message[2])
                del open_pipes[index]
                if stopper is not None:
                    stopper.worker_done(message[3])


def _worker_main(pipe: Connection, job: _Job) -> None:
    """A worker process: build, report ready, wait for the start, drive, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # SIGTERM is how the parent stops us: heard even when perfrun was started ignoring it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    data = DataRun.for_worker(job.scenario, job.data, job.share.index)
    stats = data.stats
    try:
        pipe.send(("ready",))
        start_at = pipe.recv()
    except (EOFError, OSError):
        return

    def tick(current: ScenarioStats) -> None:
        pipe.send(("progress", current.live()))

    scenario = job.scenario
    # The windows and the latency peak, on this share (its request rate scaled up).
    watch = AbortWatch(scenario.thresholds, scenario.load.warmup, shares=job.share.count)
    interrupted = drive(
        scenario,
        job.engine,
        stats,
        share=job.share,
        start_at=start_at,
        tick=tick,
        signals=(signal.SIGTERM,),
        abort=watch if watch else None,
    )
    data.close()  # its part of the lines is complete before its stats say so
    pipe.send(("done", stats, interrupted, watch.aborted))
    # Stay until the parent has taken its last sample of our CPU (it closes the pipe).
    with contextlib.suppress(EOFError, OSError):
        pipe.recv()
