"""One scenario's load on the worker processes of a Dask cluster (`--cluster`).

The same computation as `perfrun.execution.workers` on another carrier: each Dask worker process
runs one `Share` of the load (every n-th user or scheduled request, `max_in_flight`
divided, user indices and data rows kept) with perfrun's own engine in its own event
loop, and sends back its `ScenarioStats`, which merge losslessly here (HDR histograms
travel encoded); the thresholds are then judged once, on the merged figures.

Only Dask's own primitives coordinate the shares:
- the start is one instant on the scheduler's clock, which each worker reads on its own
  clock through the offset Dask measures at each heartbeat (`Worker.scheduler_delay`);
- progress travels as worker events (`Worker.log_event`), heard through
  `Client.subscribe_topic`;
- a stop (Ctrl-C, an `abort: true` threshold, the launched target's exit) is a Dask
  `Event` that each share watches from a thread of its own.

Dask is an optional extra (`pip install 'perfrun[cluster]'`), imported only here and only
when a run asks for a cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psutil

from perfrun import __version__
from perfrun.engine.backoff import Backoffs
from perfrun.engine.base import EngineFactory
from perfrun.engine.share import Share
from perfrun.errors import PerfrunError, TargetError, UsageError
from perfrun.execution.abort import Abort, AbortWatch
from perfrun.execution.drive import drive
from perfrun.execution.outcome import ShareEvidence
from perfrun.metrics.stats import LiveFigures, ScenarioStats
from perfrun.scenario.model import LoadModel, Scenario

INSTALL_HINT = "--cluster needs Dask: pip install 'perfrun[cluster]'"
CONNECT_TIMEOUT = 10.0
"""Seconds a scheduler gets to answer."""


def _refused(address: str) -> None:
    """ConnectionRefusedError when nothing listens at a `tcp://host:port` scheduler
    address: Dask's client would retry it until CONNECT_TIMEOUT (a typo in --cluster cost
    10 s). Any other answer, or another scheme, is the client's to judge."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except ConnectionRefusedError:
        raise
    except OSError:  # unreachable, timed out: the client says so in its own words
        return


START_DELAY = 1.0
"""Seconds between handing the shares to the workers and their common start: enough for
a task to reach its worker and the worker to build its engine."""
CLOCK_WARNING_S = 0.050
"""A worker whose clock is further than this from the scheduler's starts off the common
instant by as much: a warning in the report and on the console."""
STOP_GRACE = 15.0
"""Seconds the shares get, once stopped, to send what they measured."""
CPU_FROM_BEFORE = 0.02
"""A share reads its process's CPU this long before the start (the engine is built then)."""
POLL = 0.2
STOP_WATCH = 0.5
"""Seconds a share's watcher waits on the stop Event at a time."""
"""How often the client looks at the shares, the progress events and the stop reasons."""


class ClusterError(PerfrunError):
    """The cluster could not be used: the scheduler did not answer, too few workers."""


@dataclass(frozen=True)
class _Job:
    scenario: Scenario
    engine: EngineFactory
    share: Share
    run: str
    """This run's id: the names of its Dask event topic and stop Event."""


class Cluster:
    """A client of a Dask scheduler for the whole run: connected to `tcp://host:port`, or
    to a `LocalCluster` of N worker processes it starts for `local:N`."""

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError:
            raise UsageError(INSTALL_HINT) from None
        self.address = address
        self._local: Any = None
        # Dask logs what goes wrong on its side (a lost connection) with tracebacks; what
        # matters to the user, perfrun says itself (the run's outcome, its message).
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.startswith("distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            if address.startswith("local:"):
                self._local = distributed.LocalCluster(
                    n_workers=_local_count(address), threads_per_worker=1, processes=True,
                    dashboard_address=None, host="127.0.0.1",
                )  # fmt: skip
                self.client = distributed.Client(self._local, timeout=CONNECT_TIMEOUT)
            else:
                _refused(address)
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise ClusterError(f"Dask scheduler {address} did not answer: {exc}") from None
        if self._local is not None:
            # Its worker processes share this terminal: Ctrl-C is ours to handle (they
            # would die of it, their shares' figures with them).
            self.client.run(_ignore_interrupts)
        try:  # perfrun's modules loaded on every worker now, not on the start's clock
            versions = self.client.run(_warm)
        except ImportError as exc:
            self.close()
            raise ClusterError(
                f"a worker of the cluster at {address} cannot run perfrun ({exc}): "
                "install perfrun where the workers run"
            ) from None
        others = {f"{worker} has {v}" for worker, v in versions.items() if v != __version__}
        if others:
            self.close()
            raise ClusterError(
                f"the cluster at {address} runs another perfrun than this one ({__version__}): "
                + ", ".join(sorted(others))
            )

    def workers(self) -> list[tuple[str, str]]:
        """The cluster's worker processes now: (address, host), in address order."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return sorted((address, w.get("host", "")) for address, w in info.items())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if getattr(self, "client", None) is not None:
                self.client.close()
        with contextlib.suppress(Exception):
            if self._local is not None:
                self._local.close()


def _ignore_interrupts() -> bool:
    """In a worker process (`Client.run` calls it in the worker's main thread, where its
    event loop runs): ignore SIGINT. False where it cannot."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return False
    return True


def _warm() -> str:
    """Load on a worker what a share runs (an import costs up to a second); its perfrun's
    version (a share must compute what this perfrun would)."""
    import perfrun.engine.factory
    import perfrun.execution.drive  # noqa: F401

    return __version__


def _local_count(address: str) -> int:
    count = address.removeprefix("local:")
    if not count.isdigit() or int(count) < 1:
        raise UsageError(f"--cluster {address}: local:N takes a number of workers >= 1")
    return int(count)


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Cluster | None]:
    """The run's cluster client (None without --cluster), closed when the run ends."""
    if address is None:
        yield None
        return
    cluster = Cluster(address)
    try:
        yield cluster
    finally:
        cluster.close()


def run_cluster(
    scenario: Scenario,
    engine: EngineFactory,
    cluster: Cluster,
    count: int | None,
    stats: ScenarioStats,
    on_progress: Callable[[list[LiveFigures]], None],
    abort: AbortWatch | None = None,
    gone: Callable[[], bool] | None = None,
    backoffs: Backoffs | None = None,
) -> tuple[bool, tuple[ShareEvidence, ...]]:
    """Run the scenario in `count` shares (default: one per worker of the cluster), one
    per Dask worker process, and merge their stats into `stats` (and their back-offs
    from a failing target into `backoffs`); (True when interrupted, each share's
    evidence). A share whose worker is lost fails the scenario naming it (`LostShares`),
    the others' figures kept."""
    workers = cluster.workers()
    if not workers:
        raise ClusterError(
            f"the cluster at {cluster.address} has no worker: start some "
            f"(dask worker {cluster.address} --nthreads 1), then run again"
        )
    count = count or len(workers)
    if len(workers) < count:
        raise ClusterError(
            f"the cluster at {cluster.address} has {len(workers)} worker(s); "
            f"{count} shares need {count}"
        )
    run = _Run(
        cluster,
        scenario,
        count,
        stats,
        abort,
        gone,
        backoffs if backoffs is not None else Backoffs(),
    )
    try:
        run.start(engine, workers[:count])
        run.watch(on_progress)
    finally:
        run.close()
    return run.merged()


class _Run:
    """The shares of one scenario on the cluster, from their start to their figures."""

    def __init__(
        self, cluster: Cluster, scenario: Scenario, count: int, stats: ScenarioStats,
        abort: AbortWatch | None, gone: Callable[[], bool] | None, backoffs: Backoffs,
    ) -> None:  # fmt: skip
        from distributed import Event

        self.cluster, self.client = cluster, cluster.client
        self.scenario, self.count, self.stats, self.backoffs = scenario, count, stats, backoffs
        self.abort, self.gone = abort, gone
        self.id = uuid.uuid4().hex
        self.stop = Event(f"perfrun-stop-{self.id}", client=self.client)
        self.topic = f"perfrun-progress-{self.id}"
        self.progress: queue.SimpleQueue[tuple[int, LiveFigures]] = queue.SimpleQueue()
        self.futures: dict[Any, tuple[int, str, str]] = {}
        self.pending: set[Any] = set()
        """The shares not yet recorded (their figures, or lost)."""
        self.results: dict[int, tuple[ScenarioStats, ShareEvidence, Backoffs]] = {}
        self.lost: dict[int, ShareEvidence] = {}
        self.why_lost: dict[int, str] = {}
        self.failures: dict[int, str] = {}
        """Shares whose task raised: what it raised."""
        self.interrupted = self.stopped = False

    def start(self, engine: EngineFactory, workers: list[tuple[str, str]]) -> None:
        """Hand each worker its share, all to start at one instant of the scheduler's
        clock; our own clock's origin is that instant too."""
        self.client.subscribe_topic(self.topic, lambda event: self.progress.put(_live(event[1])))
        asked = time.time()
        now = self.client.run_on_scheduler(time.time)
        # Our clock's offset to the scheduler's, as Dask measures a worker's: from the
        # middle of the round trip.
        offset = now - (asked + time.time()) / 2
        start = now + START_DELAY
        self.stats.rebase(time.perf_counter() + (start - offset - time.time()))
        for index, (address, host) in enumerate(workers):
            job = _Job(self.scenario, engine, Share(index, self.count), self.id)
            future = self.client.submit(
                _share_main, job, start, key=f"perfrun-share-{index}-{self.id}",
                workers=[address], allow_other_workers=False, pure=False,
            )  # fmt: skip
            self.futures[future] = (index, address, host)
            self.pending.add(future)

    def watch(self, on_progress: Callable[[list[LiveFigures]], None]) -> None:
        """Until every share has reported or is lost: progress as it comes, shares whose
        worker left, and what stops them all (Ctrl-C, an abort, the target). After
        Ctrl-C (or SIGTERM) the shares get STOP_GRACE to send what they measured;
        another Ctrl-C meanwhile changes nothing (their figures are on their way). A
        share leaves `pending` only once recorded (its figures, or lost), so an
        interrupt at any point loses none silently."""
        latest: dict[int, LiveFigures] = {}
        deadline = math.inf
        while self.pending and time.monotonic() < deadline:
            try:
                self.step(latest, on_progress)
            except KeyboardInterrupt:
                if not self.interrupted:
                    self.interrupted = True
                    self.stop.set()
                    deadline = time.monotonic() + STOP_GRACE
        for future in list(self.pending):  # past the grace after a stop: lost
            self.lose(future, f"no figures within {STOP_GRACE:g} s of the stop")

    def step(
        self, latest: dict[int, LiveFigures], on_progress: Callable[[list[LiveFigures]], None]
    ) -> None:
        from distributed import wait

        try:
            done, _ = wait(list(self.pending), timeout=POLL, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except Exception as exc:  # the scheduler is gone: so are the shares' figures
            raise self.scheduler_lost(exc) from None
        for future in done:
            self.collect(future)
        fresh = not self.progress.empty()
        while not self.progress.empty():
            index, live = self.progress.get()
            latest[index] = live
        if fresh and len(latest) + len(self.lost) >= self.count and not self.interrupted:
            with contextlib.suppress(Exception):  # a display's trouble (a closed pipe)
                on_progress(list(latest.values()))  # must not cost the figures
        self.departed()
        if not self.stopped and self.should_stop():
            self.stopped = True
            self.stop.set()

    @property
    def futures_by_index(self) -> dict[int, str]:
        """Each share's worker address."""
        return {index: address for index, address, _ in self.futures.values()}

    def scheduler_lost(self, exc: Exception) -> ClusterError:
        return ClusterError(
            f"Dask scheduler {self.cluster.address} lost mid-run "
            f"({_said(exc)}): the shares' figures are lost with it"
        )

    def collect(self, future: Any) -> None:
        """A share that ended: its figures; or, when it raised, what it raised; or, when
        its worker died under it, lost."""
        index = self.futures[future][0]
        if future.status == "error":
            error = future.exception()
            self.failures[index] = f"{type(error).__name__}: {error}"
            self.lose(future, "it raised")
            return
        try:
            share_stats, evidence, aborted, backoffs = future.result()
        except Exception as exc:  # cancelled: its worker died under it
            self.lose(future, f"its result did not come ({_said(exc)})")
            return
        self.results[index] = (share_stats, evidence, backoffs)
        self.pending.discard(future)
        if aborted is not None and self.abort is not None and not self.abort.aborted:
            self.abort.worker_aborted(aborted)

    def lose(self, future: Any, why: str) -> None:
        """The share's figures are gone; `why` is said in the scenario's message."""
        index, address, host = self.futures[future]
        self.why_lost[index] = why
        share = Share(index, self.count)
        self.lost[index] = ShareEvidence(
            index, address, host, _load_words(self.scenario, share), 0, None, None, None, 0,
            0, 0.0, lost=True,
        )  # fmt: skip
        self.pending.discard(future)
        with contextlib.suppress(Exception):
            future.cancel()

    def departed(self) -> None:
        """The shares whose worker has left the cluster are lost (their figures with it)."""
        try:
            present = {address for address, _ in self.cluster.workers()}
        except Exception as exc:
            raise self.scheduler_lost(exc) from None
        for future in [f for f in self.pending if self.futures[f][1] not in present]:
            self.lose(future, "its worker left the cluster")

    def should_stop(self) -> bool:
        """Every share stops when the launched target exited, or an `abort: true`
        threshold failed: a resource peak judged here, or a share's windows (that
        share stopped itself and set the stop for the others)."""
        if self.gone is not None and self.gone():
            return True
        abort = self.abort
        if abort is None:
            return False
        at = time.perf_counter() - self.stats.origin
        return abort.check_resources(at) is not None or bool(abort.aborted)

    def close(self) -> None:
        """Stop every share, and leave nothing of this run on the scheduler once none is
        left to hear the stop (a Dask Event lives until it is cleared)."""
        with contextlib.suppress(Exception):
            self.stop.set()
            if not self.pending:
                self.stop.clear()
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self.topic)

    def merged(self) -> tuple[bool, tuple[ShareEvidence, ...]]:
        """Every share's figures merged into the run's; LostShares when one is lost."""
        for index in sorted(self.results):
            share_stats, _, backoffs = self.results[index]
            # Every share started at the same instant as ours: its clock, moved onto ours.
            share_stats.shift_clock(self.stats.origin - share_stats.origin)
            self.stats.merge(share_stats)
            self.backoffs.merge(backoffs)
        evidence = tuple(
            sorted([*(e for _, e, _ in self.results.values()), *self.lost.values()],
                   key=lambda e: e.index)
        )  # fmt: skip
        if self.failures:
            first = min(self.failures)
            raise LostShares(
                f"share {first} on {self.futures_by_index[first]} failed: "
                f"{self.failures[first]}"
                + (f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""),
                evidence,
            )
        if self.lost and not self.interrupted:
            names = "; ".join(
                f"share {e.index} on {e.worker}: {self.why_lost[e.index]}"
                for e in self.lost.values()
            )
            raise LostShares(
                f"{len(self.lost)} of {self.count} shares lost with their Dask worker "
                f"({names}): their part of the load is missing from the figures",
                evidence,
            )
        return self.interrupted, evidence


def _said(exc: BaseException) -> str:
    """An exception's kind and first line (Dask's carry tracebacks)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class LostShares(TargetError):
    """Shares lost mid-run: the scenario fails, with what the others measured."""

    def __init__(self, message: str, evidence: tuple[ShareEvidence, ...]) -> None:
        super().__init__(message)
        self.evidence = evidence


def _load_words(scenario: Scenario, share: Share) -> str:
    """A share's part of the load, in words."""
    load = scenario.load
    if load.model is LoadModel.OPEN:
        return f"scheduled requests #{share.index} + {share.count}k"
    if load.stages:
        return f"staged users #{share.index} + {share.count}k"
    users = list(share.indices(load.users))
    shown = ", ".join(str(u) for u in users[:4]) + (", ..." if len(users) > 4 else "")
    return f"{len(users)} users ({shown})" if users else "no user"


def _live(message: dict[str, Any]) -> tuple[int, LiveFigures]:
    return message["share"], LiveFigures.from_dict(message["live"])


def _share_main(
    job: _Job, start: float
) -> tuple[ScenarioStats, ShareEvidence, Abort | None, Backoffs]:
    """A share, in a Dask worker's thread: wait for the common start (on this worker's
    clock), drive the load in an event loop of its own, and send back what it measured."""
    from distributed import Event, get_client, get_worker

    worker = get_worker()
    offset = worker.scheduler_delay  # the scheduler's clock minus ours
    scenario, share = job.scenario, job.share
    stats = ScenarioStats.for_load(scenario.load)
    # The task's client, named: the watching thread is none of Dask's, so it has none.
    stop = Event(f"perfrun-stop-{job.run}", client=get_client())
    stopped = threading.Event()
    key = worker.get_current_task()

    def watch_stop() -> None:
        """Stop when the client says so, or when nobody wants the share any more: the
        client that asked for it is gone (perfrun killed, its machine lost), so Dask
        cancelled its task, which would otherwise run to the end of its duration."""
        while not stopped.is_set():
            try:
                if stop.wait(timeout=STOP_WATCH):
                    stopped.set()
            except Exception:  # the scheduler is gone: the client hears of it
                stopped.wait(STOP_WATCH)
            task = worker.state.tasks.get(key)
            if task is None or task.state == "cancelled":
                stopped.set()

    watcher = threading.Thread(target=watch_stop, name="perfrun-stop-watch", daemon=True)
    watcher.start()
    topic = f"perfrun-progress-{job.run}"

    def tick(current: ScenarioStats) -> None:
        live = dataclasses.asdict(current.live())
        worker.log_event(topic, {"share": share.index, "live": live})

    # The windows and the latency peak, on this share (its request rate scaled up).
    watch = AbortWatch(scenario.thresholds, scenario.load.warmup, shares=share.count)
    start_at = time.perf_counter() + (start - offset - time.time())
    late = max(time.perf_counter() - start_at, 0.0)  # the task came after the start
    # The CPU from the start on (not the task's unpickling, nor the wait before it).
    time.sleep(max(start_at - time.perf_counter() - CPU_FROM_BEFORE, 0.0))
    process = psutil.Process()
    cpu_before, began = sum(process.cpu_times()[:2]), time.perf_counter()
    backoffs = Backoffs()
    try:
        drive(
            scenario, job.engine, stats, share=share, start_at=start_at, tick=tick,
            signals=(), abort=watch if watch else None, gone=stopped.is_set,
            backoffs=backoffs,
        )  # fmt: skip
    finally:
        stopped.set()
    if watch.aborted is not None:
        _tell_abort(job.run)
    spent = time.perf_counter() - max(began, start_at)
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    lag = stats.loop_lag.summary_ms()
    evidence = ShareEvidence(
        index=share.index, worker=worker.address, host=worker.ip,
        load=_load_words(scenario, share), requests=stats.overall.total + stats.warmup.total,
        cpu_percent=100.0 * cpu / spent if spent > 0.05 else None,
        loop_lag_p99_ms=lag["p99"], loop_lag_max_ms=lag["max"], sent=stats.schedule.sent,
        late=stats.schedule.late_own, clock_offset_ms=1000.0 * offset,
        start_late_ms=1000.0 * late,
    )  # fmt: skip
    return stats, evidence, watch.aborted, backoffs


def _tell_abort(run: str) -> None:
    """A share's `abort: true` threshold failed: every share stops (the client judges
    its own copy of the windows on the merged figures)."""
    from distributed import Event

    Event(f"perfrun-stop-{run}").set()
