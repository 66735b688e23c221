"""One scenario's load split over N worker processes, one event loop each.

Python runs one event loop per core at most, so beyond one core's worth of requests
the load needs processes. Each worker takes its `Share` (every n-th user, every n-th
scheduled request), all start at the same instant, and each sends back its
`ScenarioStats`, which merge losslessly (HDR histograms travel encoded, never
re-sampled) into the parent's. The monitor stays in the parent and counts the
workers' CPU as the generator's.

Protocol over one pipe per worker: worker → ("ready",); parent → start time;
worker → ("progress", LiveFigures) every PROGRESS_INTERVAL; worker → ("done",
stats, interrupted, abort, backoffs). The parent stops workers with SIGTERM; they ignore
SIGINT (a terminal's Ctrl-C reaches the whole process group) and let the parent decide.
In the parent, stop signals are counted, not raised (`Interrupts`): the first stops the
workers and gives them STOP_GRACE to send their stats, the second changes nothing, the
third abandons the grace; whatever came is merged. Each worker dies with the parent, even a
SIGKILLed one (`die_with_parent`); the resource tracker that the spawn start method
starts holds no resource of ours and leaves once the parent and the workers are gone
(it exits at EOF on its pipe, whose write ends they hold).

`abort: true` thresholds: each worker judges the windows and the latency peak on its
share once a second and stops its share when one fails (its "done" then carries the
Abort); the parent judges the resource peaks on the monitor's samples. Either way the
parent then stops every worker, and the scenario reads as aborted, not interrupted.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from perfrun.demo.launch import die_with_parent
from perfrun.engine.backoff import Backoffs
from perfrun.engine.base import EngineFactory
from perfrun.engine.share import Share
from perfrun.errors import TargetError
from perfrun.execution.abort import Abort, AbortWatch
from perfrun.execution.data_out import DataPlan, DataRun
from perfrun.execution.drive import drive
from perfrun.execution.interrupts import Interrupts
from perfrun.metrics.stats import LiveFigures, ScenarioStats
from perfrun.scenario.model import Scenario

START_DELAY = 0.2
"""Seconds between the last worker reporting ready and the common start."""
READY_TIMEOUT = 60.0
STOP_GRACE = 15.0
"""Seconds a stopped worker gets to send what it measured before it is killed."""


_Done = tuple[ScenarioStats, bool, Backoffs]
"""A worker's last word: what it measured, whether it was interrupted, its waits."""


@dataclass(frozen=True)
class _Job:
    scenario: Scenario
    engine: EngineFactory
    share: Share
    data: DataPlan | None = None
    parent: int = 0
    """perfrun's pid: the worker dies with it."""


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
    backoffs: Backoffs | None = None,
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
    (see perfrun.execution.data_out). The workers' waits for a failing target are
    merged into `backoffs`."""
    received: dict[int, _Done] = {}
    """Filled as workers report: whatever stops the run, what came is merged."""
    stopper: _Stopper | None = None
    # Stop signals count rather than raise from here until the figures are merged: a
    # KeyboardInterrupt mid-way through reading a pipe, or in the clean-up after a first
    # Ctrl-C, would skip the merge and lose every figure.
    with Interrupts() as interrupts:
        pipes, processes = _spawn(scenario, engine, count, data)
        try:
            if _await_ready(pipes, processes, interrupts):
                on_start([p.pid for p in processes if p.pid is not None])
                start_at = time.perf_counter() + START_DELAY
                stats.rebase(start_at)
                for pipe in pipes:
                    pipe.send(start_at)
                stopper = _Stopper(processes, abort, stats, gone)
                progress = stopper.progress(on_progress)
                _collect(pipes, processes, received, progress, interrupts, stopper)
        finally:
            if on_done is not None:
                on_done()
            _close(pipes, processes, interrupts)
        interrupted = interrupts.count > 0
        stopped = stopper is not None and stopper.stopped
        for index in sorted(received):
            worker_stats, worker_interrupted, worker_backoffs = received[index]
            stats.merge(worker_stats)
            if backoffs is not None:
                backoffs.merge(worker_backoffs)
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
        job = _Job(scenario, engine, Share(index, count), data, os.getpid())
        process = context.Process(
            target=_worker_main, args=(child_end, job), name=f"perfrun-worker-{index}"
        )
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    return pipes, processes


def _close(pipes: list[Connection], processes: list[BaseProcess], interrupts: Interrupts) -> None:
    """Close the pipes (a worker still waiting for its start time gets EOF and leaves),
    then wait for the workers, killing those not gone within STOP_GRACE, or at once once
    the stop signals say to abandon them."""
    for pipe in pipes:
        pipe.close()
    deadline = time.monotonic() + STOP_GRACE
    while not interrupts.abandon:
        alive = [worker for worker in processes if worker.exitcode is None]
        remaining = deadline - time.monotonic()
        if not alive or remaining <= 0:
            break
        ready = wait([*(worker.sentinel for worker in alive), interrupts.fileno()], remaining)
        if interrupts.fileno() in ready:
            interrupts.drain()
    for worker in processes:
        if worker.is_alive():
            worker.kill()
        worker.join()


def _await_ready(
    pipes: list[Connection], processes: list[BaseProcess], interrupts: Interrupts
) -> bool:
    """Wait until every worker is ready: True; False when a stop signal came first."""
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = set(range(len(pipes)))
    while waiting:
        if interrupts.count:
            return False
        remaining = max(deadline - time.monotonic(), 0)
        ready = wait([*(pipes[i] for i in waiting), interrupts.fileno()], timeout=remaining)
        if not ready:
            raise TargetError(f"{len(waiting)} worker process(es) did not start in time")
        for pipe in ready:
            if pipe == interrupts.fileno():
                interrupts.drain()
                continue
            index = pipes.index(pipe)  # type: ignore[arg-type]
            try:
                pipes[index].recv()  # ("ready",)
            except EOFError:
                code = processes[index].exitcode
                raise TargetError(f"worker process {index} died while starting ({code})") from None
            waiting.discard(index)
    return True


def _collect(
    pipes: list[Connection],
    processes: list[BaseProcess],
    results: dict[int, _Done],
    on_progress: Callable[[list[LiveFigures]], None] | None,
    interrupts: Interrupts,
    stopper: _Stopper | None = None,
) -> None:
    """Read progress until every worker sent its stats into `results` (or died). The
    first stop signal stops every worker and gives them STOP_GRACE to send their stats;
    the third (`ABANDON_AT`) stops waiting."""
    deadline = math.inf
    latest: dict[int, LiveFigures] = {}
    open_pipes = {i: pipe for i, pipe in enumerate(pipes) if i not in results}
    while open_pipes and not interrupts.abandon:
        if interrupts.count and deadline == math.inf:
            _stop(processes)  # each sends what it measured, then waits for our close
            deadline = time.monotonic() + STOP_GRACE
            on_progress = None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        timeout = None if remaining == math.inf else remaining
        for pipe in wait([*open_pipes.values(), interrupts.fileno()], timeout=timeout):
            if pipe == interrupts.fileno():
                interrupts.drain()
                continue
            index = pipes.index(pipe)  # type: ignore[arg-type]
            if _receive(index, pipes[index], latest, results, stopper):
                del open_pipes[index]
            elif on_progress is not None and len(latest) == len(pipes):
                on_progress(list(latest.values()))


def _receive(
    index: int,
    pipe: Connection,
    latest: dict[int, LiveFigures],
    results: dict[int, _Done],
    stopper: _Stopper | None,
) -> bool:
    """Read worker `index`'s next message: its progress into `latest`, its last word
    into `results` (True: it has nothing more to say, also when it died)."""
    try:
        message = pipe.recv()
    except EOFError:  # died: the caller counts the missing result
        return True
    if message[0] == "progress":
        latest[index] = message[1]
        return False
    if message[0] == "done":
        results[index] = (message[1], message[2], message[4])
        if stopper is not None:
            stopper.worker_done(message[3])
        return True
    return False


def _worker_main(pipe: Connection, job: _Job) -> None:
    """A worker process: build, report ready, wait for the start, drive, report."""
    # Dies with perfrun, even SIGKILLed: a worker left behind would keep sending load.
    if not die_with_parent(job.parent):
        return
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
    backoffs = Backoffs()
    interrupted = drive(
        scenario,
        job.engine,
        stats,
        share=job.share,
        start_at=start_at,
        tick=tick,
        signals=(signal.SIGTERM,),
        abort=watch if watch else None,
        backoffs=backoffs,
    )
    data.close()  # its part of the lines is complete before its stats say so
    pipe.send(("done", stats, interrupted, watch.aborted, backoffs))
    # Stay until the parent has taken its last sample of our CPU (it closes the pipe).
    with contextlib.suppress(EOFError, OSError):
        pipe.recv()
