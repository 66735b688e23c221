"""Per-scenario accumulation of request results: counts, errors, latency, per endpoint.

`record` is on the request path, so it does little: a few counters and histogram
records. Everything derived (rates, percentiles) is computed once, at report time.
"""

from __future__ import annotations

import math
import operator
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import floor
from typing import Any

from mypy_extensions import mypyc_attr

from perfrun.metrics.histogram import (
    HIGHEST_US,
    LOWEST_US,
    LatencyHistogram,
    SparseHistogram,
    index_of,
)
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.schedule import ScheduleCounts
from perfrun.metrics.timeline import Timeline
from perfrun.scenario.model import LoadModel, LoadSpec


@mypyc_attr(allow_interpreted_subclasses=True)
class EndpointStats:
    """Counts and latency for one endpoint (or for all of them)."""

    __slots__ = (
        "bytes_received", "errors", "failed", "failed_checks", "failed_latency", "latency",
        "phases", "redirects", "succeeded",
    )  # fmt: skip

    def __init__(self) -> None:
        self.succeeded = 0
        self.failed = 0
        self.bytes_received = 0
        self.errors: Counter[str] = Counter()
        self.latency = LatencyHistogram()
        """Successful requests only, from the intended send time (see RequestResult)."""
        self.failed_latency = LatencyHistogram()
        self.failed_checks: Counter[str] = Counter()
        self.redirects = 0
        """Redirects followed by its requests."""
        self.phases = Phases()
        """Where the requests' time went (those that got a response, or a connection)."""

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def checked(self) -> int:
        """Responses whose status was expected, so their checks ran."""
        return self.succeeded + self.errors[ErrorKind.CHECK_FAILED.value]

    def record(self, result: RequestResult) -> None:
        self.bytes_received += result.bytes_received
        self.redirects += result.redirects
        if result.connect is not None:
            self.phases.connect.record(result.connect)
        self.phase(result.wait, result.receive)
        error = result.error
        if error is None:
            self.succeeded += 1
            self.latency.record(result.queued + result.latency)
            return
        self.failed += 1
        self.errors[error.value] += 1
        self.failed_latency.record(result.queued + result.latency)
        if error is ErrorKind.CHECK_FAILED:
            self.failed_checks.update(result.failed_checks)

    def success(self, index: int, us: int, size: int) -> None:
        """A successful request whose latency (clamped to µs) is at counts `index`: what
        `record` does with its RequestResult, for ScenarioStats.ok."""
        self.succeeded += 1
        self.bytes_received += size
        # The histogram's record, from the index already computed, inline: this runs
        # for every request of a fast run.
        latency = self.latency
        latency.counts[index] += 1
        latency.total += 1
        latency.sum_us += us

    def phase(self, wait: float | None, receive: float | None) -> None:
        """A request's phases after the connect (None when unknown)."""
        if wait is not None and receive is not None:
            self.phases.wait.record(wait)
            self.phases.receive.record(receive)

    def __getstate__(self) -> dict[str, object]:
        return attributes(self)  # the same in either build (see `attributes`)

    def __setstate__(self, state: dict[str, object]) -> None:
        restore(self, state)

    def merge(self, other: EndpointStats) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.bytes_received += other.bytes_received
        self.redirects += other.redirects
        self.errors.update(other.errors)
        self.latency.merge(other.latency)
        self.failed_latency.merge(other.failed_latency)
        self.failed_checks.update(other.failed_checks)
        self.phases.merge(other.phases)


class Phases:
    """Where requests' time went, as k6 reports it, so that a user can tell the network
    from the server: `connect` (a new connection's TCP and TLS handshakes, once per
    connection), `wait` (from the request written to the response's first byte: the
    server's time plus a round trip; an interim 1xx response's byte counts, as in k6)
    and `receive` (first byte to last: the transfer). Complete responses only."""

    __slots__ = ("connect", "receive", "wait")

    def __init__(self) -> None:
        self.connect = SparseHistogram()
        self.wait = SparseHistogram()
        self.receive = SparseHistogram()

    def __getstate__(self) -> dict[str, object]:
        return attributes(self)

    def __setstate__(self, state: dict[str, object]) -> None:
        restore(self, state)

    def merge(self, other: Phases) -> None:
        self.connect.merge(other.connect)
        self.wait.merge(other.wait)
        self.receive.merge(other.receive)


LIVE_BOUNDS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""The live latency histogram's bucket bounds, in seconds (`--out prometheus`, `otlp`)."""
_LIVE_INDICES = tuple(index_of(round(bound * 1_000_000)) for bound in LIVE_BOUNDS_S)
"""The counts index of each bound: a bucket counts the values HdrHistogram files at or
below its bound's index, i.e. up to the bound to 3 significant digits."""


@mypyc_attr(native_class=False)  # compiled, a frozen dataclass could not be unpickled
@dataclass(frozen=True)
class LiveLatency:
    """Successful requests' latencies so far, as a dashboard's histogram carries them:
    cumulative counts at LIVE_BOUNDS_S, the count and the sum. Read off the HDR counts
    once a second, never per request; the parts of several processes add up (`+`)."""

    cumulative: tuple[int, ...] = (0,) * len(LIVE_BOUNDS_S)
    """Values at or below each of LIVE_BOUNDS_S (the last bucket, +Inf, is `count`)."""
    count: int = 0
    sum_s: float = 0.0

    @classmethod
    def of(cls, *histograms: LatencyHistogram) -> LiveLatency:
        """The histograms' values together (empty ones cost nothing)."""
        cumulative = [0] * len(LIVE_BOUNDS_S)
        count = sum_us = 0
        for histogram in histograms:
            if not histogram.total:
                continue
            counts, running, start = histogram.counts, 0, 0
            for i, index in enumerate(_LIVE_INDICES):
                running += sum(counts[start : index + 1])  # slices summed at C speed
                start = index + 1
                cumulative[i] += running
            count += histogram.total
            sum_us += histogram.sum_us
        return cls(tuple(cumulative), count, sum_us / 1_000_000.0)

    def __add__(self, other: LiveLatency) -> LiveLatency:
        return LiveLatency(
            tuple(map(operator.add, self.cumulative, other.cumulative)),
            self.count + other.count,
            self.sum_s + other.sum_s,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LiveLatency:
        """From `dataclasses.asdict` after a trip through msgpack (lists for tuples)."""
        return cls(tuple(data["cumulative"]), data["count"], data["sum_s"])


@mypyc_attr(native_class=False)  # (as LiveLatency)
@dataclass(frozen=True)
class LiveFigures:
    """What the progress display and the live exporters show while a run goes on."""

    done: int
    """Requests completed, warm-up included."""
    errors: int
    last_second: int
    """Requests completed in the last full second."""
    p95_ms: float | None
    error_kinds: Mapping[str, int] = field(default_factory=dict)
    """Failed requests by error kind, warm-up included (as `done`)."""
    latency: LiveLatency = field(default_factory=LiveLatency)
    """Successful requests' latencies, warm-up included (as `done`)."""

    @classmethod
    def total(cls, parts: Sequence[LiveFigures]) -> LiveFigures:
        """The figures of several processes' shares of one load, together."""
        p95s = [p.p95_ms for p in parts if p.p95_ms is not None]
        kinds: Counter[str] = Counter()
        for part in parts:
            kinds.update(part.error_kinds)
        return cls(
            done=sum(p.done for p in parts),
            errors=sum(p.errors for p in parts),
            last_second=sum(p.last_second for p in parts),
            p95_ms=max(p95s) if p95s else None,  # live view only; the report merges exactly
            error_kinds=dict(kinds),
            latency=sum((p.latency for p in parts), LiveLatency()),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LiveFigures:
        """From `dataclasses.asdict` (a Dask event's payload)."""
        latency = LiveLatency.from_dict(data["latency"])
        return cls(**{**data, "error_kinds": dict(data["error_kinds"]), "latency": latency})


@mypyc_attr(allow_interpreted_subclasses=True)
class ScenarioStats:
    """Everything measured about one scenario's requests, mergeable across workers.

    Requests intended to start in the first `warmup` seconds go to `warmup` only (and
    to the timeline, which shows the whole run); everything else is the measurement.
    """

    def __init__(self, origin: float = 0.0, warmup: float = 0.0, scheduled: bool = False) -> None:
        # `origin` has a default only for unpickling: compiled by mypyc, a class is
        # made again by calling it without arguments (then __setstate__).
        self.origin = origin
        """perf_counter time the scenario's load started."""
        self.warmup_end = origin + warmup
        self.scheduled = scheduled
        """Open model: requests have intended times, so service time differs from latency."""
        self._endpoints: dict[str, EndpointStats] = {}
        self.warmup = EndpointStats()
        self._timeline = Timeline(origin)
        self._service = LatencyHistogram()
        self._send_delay = LatencyHistogram()
        self.loop_lag = LatencyHistogram()
        self.schedule = ScheduleCounts()
        self._first = math.inf
        """The first measured request's intended start (see `first_start`)."""
        self._last = -math.inf
        """The last measured request's end (see `last_end`)."""
        self._lo = self._hi = -1.0
        self._steady = math.inf
        """`ok`'s fast path: a success that ends within [_lo, _hi) (the timeline's current
        second) and was intended at or after _steady (past the warm-up and the first
        start) is recorded into its endpoint, and its timeline entry waits in `_second`."""
        self._second: dict[int, int] = {}
        """The latencies ({counts index: count}) of the `_in_second` successes `ok`'s
        fast path recorded in the timeline's current second, not yet handed to the
        timeline (`_tally`): it is not compiled (setup.py), and a call into it would
        cost more than the rest of a success."""
        self._in_second = 0
        self.schedule_end: float | None = None
        self.paused = 0.0
        self.rests: list[tuple[float, float]] = []
        """The rests between leak cycles, in seconds since the origin: [from, to)."""
        """Seconds of rests between leak cycles, inside the measured span (see `window`)."""
        """Open model, run to completion: when the schedule ended. The window lasts at
        least until then, so n requests at rate r read n / r seconds, not one gap less."""
        self.error_samples: dict[str, str] = {}
        """The first detail message seen for each error kind, to show the user."""

    def shift_clock(self, delta: float) -> None:
        """Move every perf_counter time kept by `delta`: figures measured on another
        machine's clock, whose origin was the same instant as ours, onto our clock
        (before `merge`: each clock is only meaningful on its own machine)."""
        self._tally()
        self.origin += delta
        self.warmup_end += delta
        self._first += delta
        self._last += delta
        self._steady += delta
        self._lo = self._hi = -1.0
        if self.schedule_end is not None:
            self.schedule_end += delta
        self._timeline.shift_clock(delta)

    def pause(self, began: float, ended: float) -> None:
        """A rest between leak cycles, from `began` to `ended` (perf_counter times):
        left out of the measured window and of sliding windows (`rests`)."""
        self.paused += ended - began
        self.rests.append((began - self.origin, ended - self.origin))

    def rebase(self, origin: float) -> None:
        """Move the origin to when the load really starts; only before any record()."""
        self.warmup_end += origin - self.origin
        self.origin = origin
        self._timeline = Timeline(origin)
        self._lo = self._hi = -1.0

    @classmethod
    def for_load(cls, load: LoadSpec) -> ScenarioStats:
        """Empty stats for a scenario's load; `rebase` sets the origin when it starts."""
        return cls(time.perf_counter(), load.warmup, scheduled=load.model is LoadModel.OPEN)

    @property
    def overall(self) -> EndpointStats:
        """All endpoints together: merged on demand (exactly), so that each request is
        recorded once, in its endpoint's stats, on the hot path."""
        total = EndpointStats()
        for endpoint in self.endpoints.values():
            total.merge(endpoint)
        return total

    def live(self) -> LiveFigures:
        """The live figures (progress display, exporters), from one merge of the
        endpoints (none for one endpoint: this runs twice a second on the load's own
        event loop; the latency buckets cost ~0.7 ms, summed slices of the counts)."""
        endpoints = list(self.endpoints.values())
        overall = endpoints[0] if len(endpoints) == 1 else self.overall
        second = int(time.perf_counter() - self.origin) - 1
        warmup = self.warmup
        return LiveFigures(
            done=overall.total + warmup.total,
            errors=overall.failed,
            last_second=self.timeline.requests_in(second) if second >= 0 else 0,
            p95_ms=overall.latency.percentile_ms(95.0),
            error_kinds=dict(overall.errors + warmup.errors),
            latency=LiveLatency.of(overall.latency, warmup.latency),
        )

    @property
    def service(self) -> LatencyHistogram:
        """Open model: successful requests from their actual send (what a closed-loop tool
        reports). In the closed model that is the latency itself, recorded once."""
        return self._service

    @property
    def send_delay(self) -> LatencyHistogram:
        """Open model: how long after its intended time each request went out."""
        return self._send_delay

    def service_time(self) -> LatencyHistogram:
        return self.service if self.scheduled else self.overall.latency

    def endpoint(self, name: str) -> EndpointStats:
        """One endpoint's stats, made on first use: the handle `ok` records into."""
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            endpoint = self._endpoints[name] = EndpointStats()
        return endpoint

    @property
    def endpoints(self) -> dict[str, EndpointStats]:
        """Each endpoint's figures, by name."""
        return self._endpoints

    @property
    def timeline(self) -> Timeline:
        self._tally()
        return self._timeline

    @property
    def on_hold(self) -> int:
        """Successes `ok` recorded whose timeline entry waits (see `_tally`)."""
        return self._in_second

    @property
    def first_start(self) -> float | None:
        """perf_counter time the first measured request was intended to start."""
        return None if self._first == math.inf else self._first

    @property
    def last_end(self) -> float | None:
        """perf_counter time the last measured request ended."""
        return None if self._last == -math.inf else self._last

    def ok(
        self, endpoint: EndpointStats, started: float, finished: float, queued: float,
        size: int, sent: float, first: float, status: int,
    ) -> None:  # fmt: skip
        """A successful request to `endpoint` (see `endpoint`), recorded exactly as
        `record` records its RequestResult, without building one: the fast engine's hot
        path. `sent` is when the request was written (after any connect) and `first`
        when the response's first byte came: its phases (see Phases). `status` is
        kept only by what writes every request out (`StreamedStats`).

        Almost every success (in the timeline's current second, past the warm-up) goes
        into its endpoint's figures at once, all compiled code, and waits for the
        timeline in `_second`: no Python call per request, and no second's worth of
        values counted in at once, which held the event loop for milliseconds."""
        latency = finished - started
        us = floor((queued + latency) * 1_000_000.0 + 0.5)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us = HIGHEST_US
        index = index_of(us)
        intended = started - queued
        if self._lo <= finished < self._hi and intended >= self._steady:
            self._counted(
                endpoint, index, us, size, latency, queued, first - sent, finished - first
            )
            if finished > self._last:
                self._last = finished
            second = self._second
            second[index] = second.get(index, 0) + 1
            self._in_second += 1
            return
        self._tally()
        self._timeline.success(finished, index)
        if intended < self.warmup_end:
            self.warmup.success(index, us, size)
            self.warmup.phase(first - sent, finished - first)
        else:
            self._counted(
                endpoint, index, us, size, latency, queued, first - sent, finished - first
            )
            self._measured(intended, finished)
        self._settle()

    def _counted(
        self, endpoint: EndpointStats, index: int, us: int, size: int, latency: float,
        queued: float, wait: float, receive: float,
    ) -> None:  # fmt: skip
        """A measured success into `endpoint` (queued + latency, clamped to µs, at counts
        `index`; its phases `wait` and `receive`), and, under a schedule, its send delay
        and its service time."""
        endpoint.success(index, us, size)
        endpoint.phase(wait, receive)
        if self.scheduled:
            self._send_delay.record(queued)
            self._service.record(latency)

    def connected(self, endpoint: EndpointStats, intended: float, seconds: float) -> None:
        """A request to `endpoint` intended at `intended` opened a new connection, in
        `seconds` (the fast engine's callback form: the request's result follows)."""
        part = self.warmup if intended < self.warmup_end else endpoint
        part.phases.connect.record(seconds)

    def _measured(self, intended: float, finished: float) -> None:
        if intended < self._first:
            self._first = intended
        if finished > self._last:
            self._last = finished

    def _settle(self) -> None:
        """Open `ok`'s fast path for the successes that follow."""
        self._lo, self._hi = self._timeline.current
        self._steady = max(self.warmup_end, self._first)

    def _tally(self) -> None:
        """Hand the timeline the successes `ok` recorded in its current second (where
        they all ended)."""
        if self._in_second:
            timeline = self._timeline
            if timeline.current[1] < 0:  # before anything is counted: nothing half done
                raise RuntimeError("successes waiting for the timeline, but no current second")
            timeline.successes(self._in_second, self._second)
            self._second.clear()
            self._in_second = 0

    def record(self, result: RequestResult) -> None:
        self._tally()
        latency, queued, error = result.latency, result.queued, result.error
        finished = result.started + latency
        self._timeline.record(finished, queued + latency, error is None)
        intended = result.started - queued
        if intended < self.warmup_end:
            self.warmup.record(result)
        else:
            self.endpoint(result.endpoint).record(result)
            if self.scheduled:
                self._send_delay.record(queued)
                if error is None:
                    self._service.record(latency)
            self._measured(intended, finished)
            if error is not None and error.value not in self.error_samples:
                self.error_samples[error.value] = result.detail
        self._settle()

    def merge(self, other: ScenarioStats) -> None:
        self.warmup.merge(other.warmup)
        self._service.merge(other.service)
        self._send_delay.merge(other.send_delay)
        self.loop_lag.merge(other.loop_lag)
        self.schedule.merge(other.schedule)
        self._tally()
        for name, theirs in other.endpoints.items():
            self.endpoint(name).merge(theirs)
        self._timeline.merge(other.timeline)
        other._lo = other._hi = -1.0  # its timeline was settled: its fast path closes
        self._first = min(self._first, other._first)
        self._last = max(self._last, other._last)
        self._settle()
        schedule_ends = [t for t in (self.schedule_end, other.schedule_end) if t is not None]
        self.schedule_end = max(schedule_ends) if schedule_ends else None
        self.paused = max(self.paused, other.paused)  # workers rest together
        self.rests = self.rests or list(other.rests)
        for kind, detail in other.error_samples.items():
            self.error_samples.setdefault(kind, detail)

    def __getstate__(self) -> dict[str, object]:
        """Pickled with every success on its timeline (e.g. from a worker process). Pickling
        settles the timeline (see Timeline.__getstate__): `ok`'s fast path closes."""
        self._tally()
        self._lo = self._hi = -1.0
        return attributes(self)

    def __setstate__(self, state: dict[str, object]) -> None:
        restore(self, state)

    @property
    def window(self) -> float:
        """Seconds from the first measured request's (intended) start to the last one's end."""
        if self.first_start is None or self.last_end is None:
            return 0.0
        end = max(self.last_end, self.schedule_end or self.last_end)
        return max(end - self.first_start - self.paused, 0.0)


def attributes(obj: object) -> dict[str, object]:
    """`obj`'s attributes by name, to pickle it: its instance dict, its classes'
    `__slots__`, and what mypyc keeps in its own slots when this module is compiled
    (setup.py). One state in either build: a worker installed as plain Python (no C
    compiler there) sends its figures to a compiled parent, or the other way round."""
    kind = type(obj)
    names = list(getattr(kind, "__mypyc_attrs__", ()))
    for cls in kind.__mro__:  # a compiled class keeps no __slots__; a subclass may
        slots = cls.__dict__.get("__slots__", ())
        names.extend((slots,) if isinstance(slots, str) else slots)
    state = dict(getattr(obj, "__dict__", {}))
    for name in names:
        if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
            state[name] = getattr(obj, name)
    return state


def restore(obj: object, state: dict[str, object]) -> None:
    """Set the attributes `attributes` took."""
    for name, value in state.items():
        setattr(obj, name, value)
