"""Resource monitor: a background thread sampling the target, the system and perfrun.

CPU is computed from CPU-time deltas between samples, summed over the target's whole
process tree (workers forked by a server count), as percent of one core like `top`:
a single-threaded server that is saturated reads 100 %, two busy cores read 200 %.
System CPU is percent of the whole machine (0–100). Memory is resident set size.

The monitor never dies of a sample it could not take: one that fails (an OSError such as
perfrun's own "Too many open files", a psutil error) is a gap, counted, with nothing of it
kept; the next sample covers the span since the last good one. perfrun's failing to read
is never the target's failure: only the target's own disappearance marks it lost.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import psutil

from perfrun.errors import TargetError
from perfrun.metrics.resources import Sample

MAX_SAMPLES = 4096
"""Samples kept at most: past it, neighbouring samples fold pairwise (see `_fold`), so a
soak of days keeps a bounded record (one sample a second for 68 minutes, one per 2 s up to
2.3 hours, …) with every peak and every CPU-second still in it."""

CHILDREN_REFRESH = 5.0
"""Seconds between listings of the target's child processes."""

SETTLE_SECONDS = 1.0
"""At most this long after the load, the target's open files are read until they settle:
a server closes its side of perfrun's connections a moment after perfrun closes them."""
SETTLE_EVERY = 0.05
SETTLE_READINGS = 3
"""Equal readings in a row that count as settled."""


@dataclass(frozen=True)
class MonitorResult:
    target_pid: int | None
    target_name: str | None
    target_lost: bool
    """The target process disappeared during the run."""
    interval: float
    samples: tuple[Sample, ...]
    overhead_cpu_seconds: float
    """CPU time the sampling thread itself used."""
    wall_seconds: float
    started: float
    """time.perf_counter() when sampling started: the load's clock, so that sample times
    can be put on the timeline's axis."""
    open_files_before: int | None = None
    """The target tree's open files (descriptors) when sampling started, before the load."""
    open_files_after: int | None = None
    """... and when it stopped, once settled (see SETTLE_SECONDS)."""
    cycle_memory_mb: tuple[float | None, ...] = ()
    """Leak cycles: the target's RSS at the end of each cycle's rest (see `mark_cycle`)."""
    gaps: int = 0
    """Samples that failed (perfrun could not read), left out: the next covers their span."""
    gap_reason: str | None = None
    """Why the first of them failed (e.g. `OSError: [Errno 24] Too many open files`)."""

    @property
    def overhead_percent(self) -> float:
        """The monitor's own CPU use, as percent of one core over the run."""
        return 100.0 * self.overhead_cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def find_process(pattern: str, exclude: set[int] | None = None) -> psutil.Process:
    """The oldest process whose name or command line contains `pattern`.

    perfrun itself (and its parents) are excluded, so `process: perfrun` cannot
    select the generator by accident. TargetError when nothing matches.
    """
    exclude = set(exclude or ()) | {os.getpid()}
    me = psutil.Process()
    exclude.update(p.pid for p in me.parents())
    matches: list[psutil.Process] = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "create_time"]):
        if proc.pid in exclude:
            continue
        name = proc.info.get("name") or ""
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if pattern in name or pattern in cmdline:
            matches.append(proc)
    if not matches:
        raise TargetError(f"no running process matches monitor.process '{pattern}'")
    return min(matches, key=lambda p: (p.info.get("create_time") or 0.0, p.pid))


def open_target(pid: int) -> psutil.Process:
    """The process to monitor, or TargetError naming the pid."""
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        raise TargetError(f"monitored process {pid} does not exist") from None
    except psutil.AccessDenied:
        raise TargetError(f"not allowed to read monitored process {pid}") from None


@dataclass
class _Tree:
    """CPU-time bookkeeping for a process tree between two samples."""

    root: psutil.Process
    cpu_times: dict[int, float] = field(default_factory=dict)
    procs: dict[int, psutil.Process] = field(default_factory=dict)
    children_listed: float = -math.inf
    """monotonic time the children were last listed (listing scans all of /proc)."""


class Monitor:
    """Samples every `interval` seconds between start() and stop(): in a daemon thread,
    or, with `threaded=False`, whenever its owner calls `poll()` (every `interval`).

    A first sample is taken at start and a last one at stop, so even a run shorter than
    the interval has a CPU figure covering its whole length.

    The load's own process polls (see perfrun.execution.runner): a sampling thread beside the
    event loop hands the GIL back and forth ~30 times a sample (each /proc read releases
    it), and with perfrun pinned to one core every handoff waits for the scheduler: the
    loop stalled for 10-40 ms a second, enough to send requests late at 20,000/s. Polled
    from the loop, a sample is ~1 ms of the loop's time, once per interval.
    """

    def __init__(
        self, target: psutil.Process | None, interval: float = 1.0, *, threaded: bool = True
    ) -> None:
        self._threaded = threaded
        self._interval = interval
        self._target = _Tree(target) if target is not None else None
        self._target_lost = False
        self._me = psutil.Process()
        self._samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perfrun-monitor", daemon=True)
        self._lock = threading.Lock()
        self._started = 0.0
        self._last = 0.0
        self._my_cpu = 0.0
        self._workers: dict[int, psutil.Process] = {}
        self._worker_cpu: dict[int, float] = {}
        self._overhead = 0.0
        self._result: MonitorResult | None = None
        self._files_before: int | None = None
        self._cycle_memory: list[float | None] = []
        self._gaps = 0
        self._gap_reason: str | None = None

    def start(self) -> None:
        self._started = self._last = time.perf_counter()
        self._my_cpu = _cpu_seconds(self._me)
        psutil.cpu_percent(None)  # prime the system-wide counter
        if self._target is not None:
            self._tree_cpu_delta(self._target)
            self._files_before = self._steady_open_files()
        if self._threaded:
            self._thread.start()

    @property
    def interval(self) -> float:
        return self._interval

    def poll(self) -> None:
        """Take a sample now (polled mode: the owner calls this every `interval`)."""
        if not self._threaded and self._started and self._result is None:
            self._timed_sample(final=False)

    def add_generator(self, pids: list[int]) -> None:
        """Count these processes (perfrun's workers) as part of the generator."""
        with self._lock:
            for pid in pids:
                try:
                    proc = psutil.Process(pid)
                    # From now on: their start-up (imports) is not load generation.
                    self._worker_cpu[pid] = _cpu_seconds(proc)
                except (psutil.Error, OSError):
                    continue
                self._workers[pid] = proc

    def mark_cycle(self) -> None:
        """A leak cycle's rest ended: read the target's RSS now (None when unreadable)."""
        memory: float | None = None
        if self._target is not None and not self._target_lost:
            try:
                procs = self._tree_processes(self._target)
                rss = 0
                for proc in procs:
                    try:
                        rss += proc.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.ZombieProcess):
                        continue
                memory = rss / 2**20 if procs else None
            except (psutil.Error, OSError):  # gone, or unreadable now: not measured
                memory = None
        with self._lock:
            self._cycle_memory.append(memory)

    def latest(self) -> Sample | None:
        """The most recent sample, for live progress."""
        with self._lock:
            return self._samples[-1] if self._samples else None

    def stop(self) -> MonitorResult:
        """Stop sampling (taking a final sample) and return everything sampled."""
        if self._result is not None:
            return self._result
        self._stop.set()
        if self._threaded:
            self._thread.join()
        elif self._started:
            self._timed_sample(final=True)
        root = self._target.root if self._target is not None else None
        files_after = self._settled_open_files() if self._files_before is not None else None
        self._result = MonitorResult(
            target_pid=root.pid if root is not None else None,
            target_name=_name(root) if root is not None else None,
            target_lost=self._target_lost,
            interval=self._interval,
            samples=tuple(self._samples),
            overhead_cpu_seconds=self._overhead,
            wall_seconds=time.perf_counter() - self._started,
            started=self._started,
            open_files_before=self._files_before,
            open_files_after=files_after,
            cycle_memory_mb=tuple(self._cycle_memory),
            gaps=self._gaps,
            gap_reason=self._gap_reason,
        )
        return self._result

    def _open_files(self) -> int | None:
        """The target tree's open files now; None when it is gone or they are unreadable."""
        if self._target is None or self._target_lost:
            return None
        try:
            procs = self._tree_processes(self._target)
        except (psutil.Error, OSError):
            return None
        counts = []
        for proc in procs:
            try:
                counts.append(int(proc.num_fds()))
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            except (psutil.Error, OSError, NotImplementedError, AttributeError):
                return None
        return sum(counts)

    def _steady_open_files(self) -> int | None:
        """The target's open files before the load, once SETTLE_READINGS readings in a
        row agree (SETTLE_SECONDS at most): a connection just closed (the readiness
        probe's, the previous scenario's) leaves the server's side open a moment, and
        counted here it would read as one file fewer leaked."""
        deadline = time.monotonic() + SETTLE_SECONDS
        readings = [self._open_files()]
        while readings[-1] is not None and time.monotonic() < deadline:
            if len(readings) >= SETTLE_READINGS and len(set(readings[-SETTLE_READINGS:])) == 1:
                break
            time.sleep(SETTLE_EVERY)
            readings.append(self._open_files())
        return readings[-1]

    def _settled_open_files(self) -> int | None:
        """The target's open files once they stop falling: back to where they started,
        or SETTLE_READINGS equal readings in a row, or SETTLE_SECONDS at most."""
        deadline = time.monotonic() + SETTLE_SECONDS
        readings = [self._open_files()]
        while time.monotonic() < deadline:
            last = readings[-1]
            if last is None or (self._files_before is not None and last <= self._files_before):
                break
            if len(readings) >= SETTLE_READINGS and len(set(readings[-SETTLE_READINGS:])) == 1:
                break
            time.sleep(SETTLE_EVERY)
            readings.append(self._open_files())
        return readings[-1]

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._timed_sample(final=False)
        self._timed_sample(final=True)

    def _timed_sample(self, final: bool) -> None:
        before = time.thread_time()
        try:
            sample = self._guarded_sample()
        except Exception as exc:  # OSError, psutil's, a /proc line it cannot parse:
            # whatever it is, a sample missed is a gap; the monitor must go on.
            self._gaps += 1
            self._gap_reason = self._gap_reason or f"{type(exc).__name__}: {exc}"
            self._overhead += time.thread_time() - before
            return
        with self._lock:
            if final and self._samples and sample.dt < self._interval / 2:
                # A CPU rate over a few milliseconds is noise: fold the short last span
                # into the previous sample instead of reporting it as a peak.
                sample = _fold(self._samples.pop(), sample)
            self._samples.append(sample)
            if len(self._samples) > MAX_SAMPLES:
                self._samples = _halve(self._samples)
        self._overhead += time.thread_time() - before

    def _guarded_sample(self) -> Sample:
        """A sample; when it fails, the CPU baselines are as they were before it, so the
        next sample covers the failed one's span too (its own errors are perfrun's: the
        target is marked lost only by its own disappearance, in `_sample_target`)."""
        baselines = (self._last, self._my_cpu, dict(self._worker_cpu))
        tree = self._target
        tree_baseline = tree.cpu_times if tree is not None else {}
        try:
            return self._sample()
        except BaseException:
            self._last, self._my_cpu, worker_cpu = baselines
            self._worker_cpu.clear()
            self._worker_cpu.update(worker_cpu)
            if tree is not None:
                tree.cpu_times = tree_baseline
            raise

    def _sample(self) -> Sample:
        now = time.perf_counter()
        elapsed = max(now - self._last, 1e-6)
        self._last = now
        my_cpu = _cpu_seconds(self._me)
        generator_cpu = 100.0 * (my_cpu - self._my_cpu + self._workers_cpu_delta()) / elapsed
        self._my_cpu = my_cpu
        generator_rss = self._me.memory_info().rss + self._workers_rss()
        memory = psutil.virtual_memory()
        target = self._sample_target(elapsed)
        return Sample(
            t=round(now - self._started, 3),
            dt=round(elapsed, 3),
            target_cpu_percent=target[0],
            target_memory_mb=target[1],
            target_threads=target[2],
            target_open_files=target[3],
            target_sockets=target[4],
            target_processes=target[5],
            system_cpu_percent=psutil.cpu_percent(None),
            system_memory_percent=memory.percent,
            system_memory_used_mb=(memory.total - memory.available) / 2**20,
            generator_cpu_percent=round(generator_cpu, 2),
            generator_memory_mb=generator_rss / 2**20,
        )

    def _workers_cpu_delta(self) -> float:
        """CPU seconds the worker processes used since the last sample."""
        with self._lock:
            workers = list(self._workers.items())
        delta = 0.0
        for pid, proc in workers:
            try:
                total = _cpu_seconds(proc)
            except psutil.Error:
                continue
            delta += total - self._worker_cpu.get(pid, 0.0)
            self._worker_cpu[pid] = total
        return max(delta, 0.0)

    def _workers_rss(self) -> int:
        with self._lock:
            workers = list(self._workers.values())
        rss = 0
        for proc in workers:
            try:
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        return int(rss)

    def _sample_target(
        self, elapsed: float
    ) -> tuple[float | None, float | None, int | None, int | None, int | None, int | None]:
        tree = self._target
        if tree is None or self._target_lost:
            return (None, None, None, None, None, None)
        try:
            procs = self._tree_processes(tree)
        except psutil.NoSuchProcess:
            self._target_lost = True
            return (None, None, None, None, None, None)
        cpu = 100.0 * self._tree_cpu_delta(tree, procs) / elapsed
        rss = threads = files = conns = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
                    files += _optional(proc.num_fds)
                    conns += _optional(partial(_sockets, proc.pid))
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        if not _alive(tree.root):
            # It exited while being read: an exiting process reads 0 MB, which a folded
            # final sample would keep as the peak. What it left is not a sample of it.
            self._target_lost = True
            return (None, None, None, None, None, None)
        return (round(cpu, 2), rss / 2**20, threads, files, conns, len(procs))

    def _tree_processes(self, tree: _Tree) -> list[psutil.Process]:
        """The root and its descendants. Listing descendants reads every process's stat
        file (~1 ms), the bulk of a sample's cost, so it is redone only every
        CHILDREN_REFRESH seconds; children that exit in between are dropped as found."""
        if not _alive(tree.root):
            raise psutil.NoSuchProcess(tree.root.pid)
        now = time.monotonic()
        if now - tree.children_listed >= CHILDREN_REFRESH:
            # Keep one Process object per pid so psutil's caches stay warm.
            tree.procs = {
                child.pid: tree.procs.get(child.pid, child)
                for child in tree.root.children(recursive=True)
            }
            tree.children_listed = now  # listed: a failed listing is retried next time
        return [tree.root, *(p for p in tree.procs.values() if p.is_running())]

    def _tree_cpu_delta(self, tree: _Tree, procs: list[psutil.Process] | None = None) -> float:
        """CPU seconds the tree used since the last call; new processes count in full."""
        if procs is None:
            try:
                procs = self._tree_processes(tree)
            except psutil.NoSuchProcess:
                return 0.0
        delta = 0.0
        seen: dict[int, float] = {}
        for proc in procs:
            try:
                total = _cpu_seconds(proc)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            delta += total - tree.cpu_times.get(proc.pid, 0.0)
            seen[proc.pid] = total
        tree.cpu_times = seen
        return max(delta, 0.0)


def _alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a crashed child of perfrun, the demo target, stays a zombie
    until reaped)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _halve(samples: list[Sample]) -> list[Sample]:
    """Neighbouring samples folded pairwise (an odd last one kept as it is)."""
    folded = [_fold(a, b) for a, b in zip(samples[0::2], samples[1::2], strict=False)]
    if len(samples) % 2:
        folded.append(samples[-1])
    return folded


def _fold(earlier: Sample, later: Sample) -> Sample:
    """One sample covering both spans: rates weighted by time, gauges at their peak
    (so a maximum seen just before the end is not lost)."""
    span = earlier.dt + later.dt

    def rate(a: float | None, b: float | None) -> float | None:
        if a is None or b is None:
            return b if a is None else a
        return round((a * earlier.dt + b * later.dt) / span, 2)

    def peak(a: float | None, b: float | None) -> float | None:
        return b if a is None else a if b is None else max(a, b)

    def peak_int(a: int | None, b: int | None) -> int | None:
        return b if a is None else a if b is None else max(a, b)

    return Sample(
        t=later.t,
        dt=round(span, 3),
        target_cpu_percent=rate(earlier.target_cpu_percent, later.target_cpu_percent),
        target_memory_mb=peak(earlier.target_memory_mb, later.target_memory_mb),
        target_threads=peak_int(earlier.target_threads, later.target_threads),
        target_open_files=peak_int(earlier.target_open_files, later.target_open_files),
        target_sockets=peak_int(earlier.target_sockets, later.target_sockets),
        target_processes=peak_int(earlier.target_processes, later.target_processes),
        system_cpu_percent=rate(earlier.system_cpu_percent, later.system_cpu_percent) or 0.0,
        system_memory_percent=max(earlier.system_memory_percent, later.system_memory_percent),
        system_memory_used_mb=max(earlier.system_memory_used_mb, later.system_memory_used_mb),
        generator_cpu_percent=rate(earlier.generator_cpu_percent, later.generator_cpu_percent)
        or 0.0,
        generator_memory_mb=max(earlier.generator_memory_mb, later.generator_memory_mb),
    )


def _sockets(pid: int) -> int:
    """Open sockets (connections and listeners) of a process, from its fd links: psutil's
    net_connections parses every socket table of the system, ~10 ms per call."""
    try:
        fds = os.scandir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        raise NotImplementedError("no /proc") from None
    except PermissionError:
        raise psutil.AccessDenied(pid) from None
    count = 0
    with fds:
        for entry in fds:
            try:
                count += os.readlink(entry.path).startswith("socket:")
            except OSError:
                continue  # closed meanwhile
    return count


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _optional(read: Callable[[], int]) -> int:
    """A per-process count that may be unreadable (permissions, platform): 0 then."""
    try:
        return int(read())
    except (psutil.AccessDenied, NotImplementedError, AttributeError):
        return 0


def _name(proc: psutil.Process) -> str | None:
    try:
        return str(proc.name())
    except psutil.Error:
        return None
