"""Per-scenario accumulation of request results: counts, errors, latency, per endpoint.

`record` is on the request path, so it does little: a few counters and histogram
records. Everything derived (rates, percentiles) is computed once, at report time.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from perfrun.metrics.histogram import (
    BUCKET_BASE,
    HALF_COUNT,
    HALF_MAGNITUDE,
    HIGHEST_US,
    LOWEST_US,
    SUB_BUCKET_MASK,
    UNIT_MAGNITUDE,
    LatencyHistogram,
)
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.schedule import ScheduleCounts
from perfrun.metrics.timeline import Timeline
from perfrun.scenario.model import LoadModel, LoadSpec


class EndpointStats:
    """Counts and latency for one endpoint (or for all of them)."""

    __slots__ = (
        "bytes_received", "errors", "failed", "failed_checks", "failed_latency", "latency",
        "succeeded",
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

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def checked(self) -> int:
        """Responses whose status was expected, so their checks ran."""
        return self.succeeded + self.errors[ErrorKind.CHECK_FAILED.value]

    def record(self, result: RequestResult) -> None:
        self.bytes_received += result.bytes_received
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
        # LatencyHistogram.add, inlined: this runs for every request of a fast run.
        latency = self.latency
        latency.counts[index] += 1
        latency.total += 1
        latency.sum_us += us

    def merge(self, other: EndpointStats) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.bytes_received += other.bytes_received
        self.errors.update(other.errors)
        self.latency.merge(other.latency)
        self.failed_latency.merge(other.failed_latency)
        self.failed_checks.update(other.failed_checks)


@dataclass(frozen=True)
class LiveFigures:
    """What the progress display shows while a run goes on."""

    done: int
    """Requests completed, warm-up included."""
    errors: int
    last_second: int
    """Requests completed in the last full second."""
    p95_ms: float | None


class ScenarioStats:
    """Everything measured about one scenario's requests, mergeable across workers.

    Requests intended to start in the first `warmup` seconds go to `warmup` only (and
    to the timeline, which shows the whole run); everything else is the measurement.
    """

    def __init__(self, origin: float, warmup: float = 0.0, scheduled: bool = False) -> None:
        self.origin = origin
        """perf_counter time the scenario's load started."""
        self.warmup_end = origin + warmup
        self.scheduled = scheduled
        """Open model: requests have intended times, so service time differs from latency."""
        self.endpoints: dict[str, EndpointStats] = {}
        self.warmup = EndpointStats()
        self.timeline = Timeline(origin)
        self.service = LatencyHistogram()
        """Open model: successful requests from their actual send (what a closed-loop tool
        reports). In the closed model that is the latency itself, recorded once."""
        self.send_delay = LatencyHistogram()
        """Open model: how long after its intended time each request went out."""
        self.loop_lag = LatencyHistogram()
        self.schedule = ScheduleCounts()
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.schedule_end: float | None = None
        """Open model, run to completion: when the schedule ended. The window lasts at
        least until then, so n requests at rate r read n / r seconds, not one gap less."""
        self.error_samples: dict[str, str] = {}
        """The first detail message seen for each error kind, to show the user."""

    def rebase(self, origin: float) -> None:
        """Move the origin to when the load really starts; only before any record()."""
        self.warmup_end += origin - self.origin
        self.origin = origin
        self.timeline = Timeline(origin)

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
        """The progress figures, from one merge of the endpoints (none for one endpoint:
        this runs twice a second on the load's own event loop)."""
        endpoints = list(self.endpoints.values())
        overall = endpoints[0] if len(endpoints) == 1 else self.overall
        second = int(time.perf_counter() - self.origin) - 1
        return LiveFigures(
            done=overall.total + self.warmup.total,
            errors=overall.failed,
            last_second=self.timeline.requests_in(second) if second >= 0 else 0,
            p95_ms=overall.latency.percentile_ms(95.0),
        )

    def service_time(self) -> LatencyHistogram:
        return self.service if self.scheduled else self.overall.latency

    def endpoint(self, name: str) -> EndpointStats:
        """One endpoint's stats, made on first use: the handle `ok` records into."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            endpoint = self.endpoints[name] = EndpointStats()
        return endpoint

    def ok(
        self, endpoint: EndpointStats, started: float, finished: float, queued: float, size: int
    ) -> None:
        """A successful request to `endpoint` (see `endpoint`), recorded exactly as
        `record` records its RequestResult, without building one: the fast engine's hot
        path. The latency is clamped and its histogram index computed once, for the
        timeline and the endpoint both."""
        latency = finished - started
        us = int((queued + latency) * 1_000_000.0 + 0.5)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us = HIGHEST_US
        bucket = (us | SUB_BUCKET_MASK).bit_length() - BUCKET_BASE  # index_of(us), inlined
        index = ((bucket + 1) << HALF_MAGNITUDE) + (us >> (bucket + UNIT_MAGNITUDE)) - HALF_COUNT
        self.timeline.success(finished, index)
        intended = started - queued
        if intended < self.warmup_end:
            self.warmup.success(index, us, size)
            return
        endpoint.success(index, us, size)
        if self.scheduled:
            self.send_delay.record(queued)
            self.service.record(latency)
        first = self.first_start
        if first is None or intended < first:
            self.first_start = intended
        last = self.last_end
        if last is None or finished > last:
            self.last_end = finished

    def record(self, result: RequestResult) -> None:
        latency, queued, error = result.latency, result.queued, result.error
        finished = result.started + latency
        self.timeline.record(finished, queued + latency, error is None)
        intended = result.started - queued
        if intended < self.warmup_end:
            self.warmup.record(result)
            return
        endpoint = self.endpoints.get(result.endpoint)
        if endpoint is None:
            endpoint = self.endpoints[result.endpoint] = EndpointStats()
        endpoint.record(result)
        if self.scheduled:
            self.send_delay.record(queued)
            if error is None:
                self.service.record(latency)
        if self.first_start is None or intended < self.first_start:
            self.first_start = intended
        if self.last_end is None or finished > self.last_end:
            self.last_end = finished
        if result.error is not None and result.error.value not in self.error_samples:
            self.error_samples[result.error.value] = result.detail

    def merge(self, other: ScenarioStats) -> None:
        self.warmup.merge(other.warmup)
        self.service.merge(other.service)
        self.send_delay.merge(other.send_delay)
        self.loop_lag.merge(other.loop_lag)
        self.schedule.merge(other.schedule)
        for name, theirs in other.endpoints.items():
            self.endpoints.setdefault(name, EndpointStats()).merge(theirs)
        self.timeline.merge(other.timeline)
        starts = [t for t in (self.first_start, other.first_start) if t is not None]
        ends = [t for t in (self.last_end, other.last_end) if t is not None]
        self.first_start = min(starts) if starts else None
        self.last_end = max(ends) if ends else None
        schedule_ends = [t for t in (self.schedule_end, other.schedule_end) if t is not None]
        self.schedule_end = max(schedule_ends) if schedule_ends else None
        for kind, detail in other.error_samples.items():
            self.error_samples.setdefault(kind, detail)

    @property
    def window(self) -> float:
        """Seconds from the first measured request's (intended) start to the last one's end."""
        if self.first_start is None or self.last_end is None:
            return 0.0
        end = max(self.last_end, self.schedule_end or self.last_end)
        return max(end - self.first_start, 0.0)
