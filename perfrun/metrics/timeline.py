"""Per-second timeline: requests, errors and latency of the requests completed each second.

Only the current second's histogram is live; a finished second is kept encoded
(~100 bytes), so an hour-long run costs a few hundred kB and stays mergeable.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfrun.metrics.histogram import LatencyHistogram


@dataclass
class Second:
    """One second of the timeline; `latency` holds successful requests only."""

    requests: int = 0
    errors: int = 0
    latency: str = ""
    """Encoded LatencyHistogram (see LatencyHistogram.encode); empty when none succeeded."""

    def histogram(self) -> LatencyHistogram:
        return LatencyHistogram.decode(self.latency) if self.latency else LatencyHistogram()


class Timeline:
    """Buckets completions by whole seconds since `origin` (a perf_counter time)."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self._seconds: dict[int, Second] = {}
        self._current = -1
        self._live = LatencyHistogram()

    def record(self, finished: float, latency: float, ok: bool) -> None:
        second = int(finished - self.origin)
        if second != self._current:
            self._freeze()
            self._current = second
            self._live = self._seconds.setdefault(second, Second()).histogram()
        bucket = self._seconds[second]
        bucket.requests += 1
        if ok:
            self._live.record(latency)
        else:
            bucket.errors += 1

    def _freeze(self) -> None:
        if self._current in self._seconds and self._live.count:
            self._seconds[self._current].latency = self._live.encode()

    def seconds(self) -> dict[int, Second]:
        """Every second that saw a completion, the live one included."""
        self._freeze()
        return dict(sorted(self._seconds.items()))

    def requests_in(self, second: int) -> int:
        """Completions in one second (0 when none), e.g. the last full second's rate."""
        bucket = self._seconds.get(second)
        return bucket.requests if bucket else 0

    def merge(self, other: Timeline) -> None:
        """Add another timeline with the same origin (e.g. from another worker)."""
        self._freeze()
        for second, theirs in other.seconds().items():
            mine = self._seconds.setdefault(second, Second())
            mine.requests += theirs.requests
            mine.errors += theirs.errors
            if theirs.latency:
                merged = mine.histogram()
                merged.merge(theirs.histogram())
                mine.latency = merged.encode()
        if self._current in self._seconds:
            self._live = self._seconds[self._current].histogram()
