"""Per-scenario accumulation of request results: counts, errors, latency, per endpoint.

`record` is on the request path, so it does little: a few counters and histogram
records. Everything derived (rates, percentiles) is computed once, at report time.
"""

from __future__ import annotations

from collections import Counter

from perfrun.engine.result import RequestResult
from perfrun.metrics.histogram import LatencyHistogram
from perfrun.metrics.timeline import Timeline


class EndpointStats:
    """Counts and latency for one endpoint (or for all of them)."""

    __slots__ = ("bytes_received", "errors", "failed", "failed_latency", "latency", "succeeded")

    def __init__(self) -> None:
        self.succeeded = 0
        self.failed = 0
        self.bytes_received = 0
        self.errors: Counter[str] = Counter()
        self.latency = LatencyHistogram()
        """Successful requests only; failures are counted by kind instead."""
        self.failed_latency = LatencyHistogram()

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    def record(self, result: RequestResult) -> None:
        self.bytes_received += result.bytes_received
        if result.error is None:
            self.succeeded += 1
            self.latency.record(result.latency)
        else:
            self.failed += 1
            self.errors[result.error.value] += 1
            self.failed_latency.record(result.latency)

    def merge(self, other: EndpointStats) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.bytes_received += other.bytes_received
        self.errors.update(other.errors)
        self.latency.merge(other.latency)
        self.failed_latency.merge(other.failed_latency)


class ScenarioStats:
    """Everything measured about one scenario's requests, mergeable across workers."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        """perf_counter time the scenario's load started."""
        self.overall = EndpointStats()
        self.endpoints: dict[str, EndpointStats] = {}
        self.timeline = Timeline(origin)
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.error_samples: dict[str, str] = {}
        """The first detail message seen for each error kind, to show the user."""

    def record(self, result: RequestResult) -> None:
        self.overall.record(result)
        endpoint = self.endpoints.get(result.endpoint)
        if endpoint is None:
            endpoint = self.endpoints[result.endpoint] = EndpointStats()
        endpoint.record(result)
        finished = result.started + result.latency
        self.timeline.record(finished, result.latency, result.error is None)
        if self.first_start is None or result.started < self.first_start:
            self.first_start = result.started
        if self.last_end is None or finished > self.last_end:
            self.last_end = finished
        if result.error is not None and result.error.value not in self.error_samples:
            self.error_samples[result.error.value] = result.detail

    def merge(self, other: ScenarioStats) -> None:
        self.overall.merge(other.overall)
        for name, theirs in other.endpoints.items():
            self.endpoints.setdefault(name, EndpointStats()).merge(theirs)
        self.timeline.merge(other.timeline)
        starts = [t for t in (self.first_start, other.first_start) if t is not None]
        ends = [t for t in (self.last_end, other.last_end) if t is not None]
        self.first_start = min(starts) if starts else None
        self.last_end = max(ends) if ends else None
        for kind, detail in other.error_samples.items():
            self.error_samples.setdefault(kind, detail)

    @property
    def window(self) -> float:
        """Seconds from the first request's start to the last one's end."""
        if self.first_start is None or self.last_end is None:
            return 0.0
        return max(self.last_end - self.first_start, 0.0)
