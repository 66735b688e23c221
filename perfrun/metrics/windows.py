"""Sliding windows over the timeline's seconds: a threshold with `over: 10s` is judged on
every 10-second window of the run, not only on the whole run.

A `SlidingWindow` holds the last `length` seconds and their running sum (requests, errors,
latency counts), so memory is O(window) whatever the run's length: each new second is
added, the one leaving the window subtracted. The figures are those the report gives for
the whole run, restricted to the window: latency of the window's successful requests (as
the timeline keeps them), requests per second over the window's length, success and error
rates. The same code judges the finished run (`perfrun.judge`) and watches the running one
for `abort: true` (`perfrun.execution.drive`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from perfrun.metrics.histogram import LatencyHistogram, sparse_percentiles_ms
from perfrun.metrics.timeline import Point, Timeline
from perfrun.scenario.metrics import BY_NAME
from perfrun.scenario.model import Threshold

_PERCENTILES = {"p50": 50.0, "p75": 75.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


@dataclass(frozen=True)
class WindowFigure:
    """One window's figure: seconds [start_s, end_s) since the load started."""

    start_s: int
    end_s: int
    value: float | None


class SlidingWindow:
    """The last `length` whole seconds of a run, summed."""

    def __init__(self, length: int, start: int = 0, shares: int = 1) -> None:
        if length < 1:
            raise ValueError("a window lasts at least one second")
        self.length = length
        self.shares = shares
        """The window sees one of this many equal shares of the load (a worker's): its
        request rate is scaled up to the whole's; shares of requests need no scaling."""
        self._seconds: deque[tuple[int, int, dict[int, int]]] = deque()
        self._requests = 0
        self._errors = 0
        self._counts: dict[int, int] = {}
        self.end = start
        """The second after the newest one pushed (`start` before the first)."""

    def push(self, requests: int, errors: int, counts: Mapping[int, int]) -> None:
        """The next second's completions (requests, failures, latency counts of successes)."""
        entry = (requests, errors, dict(counts))
        self._seconds.append(entry)
        self._add(entry, 1)
        if len(self._seconds) > self.length:
            self._add(self._seconds.popleft(), -1)
        self.end += 1

    def skip(self) -> None:
        """The next second is none of the load's (a rest): the window moves past it
        without taking it in."""
        self.end += 1

    def __len__(self) -> int:
        """Seconds held (up to `length`)."""
        return len(self._seconds)

    @property
    def full(self) -> bool:
        return len(self._seconds) == self.length

    def _add(self, entry: tuple[int, int, dict[int, int]], sign: int) -> None:
        requests, errors, counts = entry
        self._requests += sign * requests
        self._errors += sign * errors
        total = self._counts
        for index, count in counts.items():
            left = total.get(index, 0) + sign * count
            if left:
                total[index] = left
            else:
                del total[index]

    def figure(self, path: tuple[str, ...], seconds: float | None = None) -> float | None:
        """The window's value of the figure at a report `path` (`("latency_ms", "p95")`,
        `("requests", "rps")`); None when the window has none (no success, no request).
        `seconds`: how long the window really lasted, when its last second was only
        partly run (a run shorter than the window): the request rate's divisor."""
        section, key = path[0], path[-1]
        if section == "latency_ms":
            if key in _PERCENTILES:
                return sparse_percentiles_ms(self._counts, (_PERCENTILES[key],))[0]
            return LatencyHistogram.from_counts(self._counts).summary_ms()[key]
        if key == "rps":
            if not self._seconds:
                return None
            lasted = seconds if seconds else len(self._seconds)
            return self.shares * self._requests / lasted
        if not self._requests:
            return None
        failed = 100.0 * self._errors / self._requests
        if key == "error_rate":
            return failed
        if key == "success_rate":
            return 100.0 - failed
        raise ValueError(f"no window figure at {'.'.join(path)}")

    def current(self, path: tuple[str, ...], seconds: float | None = None) -> WindowFigure:
        return WindowFigure(self.end - len(self._seconds), self.end, self.figure(path, seconds))


def feed(
    window: SlidingWindow, timeline: Timeline, until: int,
    rests: Sequence[tuple[float, float]] = (),
) -> Iterator[None]:  # fmt: skip
    """Push the timeline's seconds from `window.end` up to (not including) `until`, one
    at a time, yielding after each: the caller reads the window at every step. A
    second mostly inside one of `rests` (between leak cycles: no load was sent) is
    skipped, not pushed as an empty one. A timeline whose points span more than a
    second (a run beyond perfrun.metrics.timeline.MAX_POINTS seconds) has no per-second
    figures: nothing is pushed."""
    if timeline.span != 1:
        return
    points: Mapping[int, Point] = timeline.seconds()
    while window.end < until:
        middle = window.end + 0.5
        if any(began <= middle < ended for began, ended in rests):
            window.skip()
            continue
        point = points.get(window.end)
        if point is None:
            window.push(0, 0, {})
        else:
            window.push(point.requests, point.errors, point.counts())
        yield


class WindowWatch:
    """One `over` threshold judged on each full window as the seconds come: the first
    window that fails (and the first that only warns) and the worst one. A run shorter
    than the window is judged as one window, all of it (`finish`)."""

    def __init__(self, threshold: Threshold, start: int = 0, shares: int = 1) -> None:
        if threshold.over is None:
            raise ValueError(f"{threshold.label} is not judged over windows")
        self.threshold = threshold
        self.window = SlidingWindow(int(threshold.over), start, shares)
        self.path = BY_NAME[threshold.metric].path
        self.judged = 0
        self.worst: WindowFigure | None = None
        self.first_failure: WindowFigure | None = None
        self.first_warning: WindowFigure | None = None

    def advance(
        self, timeline: Timeline, until: int, rests: Sequence[tuple[float, float]] = ()
    ) -> None:
        """Judge every window that ends by second `until` (the seconds of `rests` left
        out)."""
        for _ in feed(self.window, timeline, until, rests):
            if self.window.full:
                self._judge(self.window.current(self.path))

    def finish(self, seconds: float | None = None) -> None:
        """At the run's end: a run shorter than one window is judged as a whole, lasting
        `seconds` (its last second may have been a part one)."""
        if not self.judged and len(self.window):
            self._judge(self.window.current(self.path, seconds))

    @property
    def failed(self) -> bool:
        return self.first_failure is not None

    def _judge(self, figure: WindowFigure) -> None:
        if figure.value is None:
            return
        self.judged += 1
        t = self.threshold
        if (
            self.worst is None
            or self.worst.value is None
            or t.beyond(figure.value, self.worst.value)
        ):
            self.worst = figure
        if self.first_failure is None and t.beyond(figure.value, t.limit):
            self.first_failure = figure
        elif self.first_warning is None and t.warn is not None and t.beyond(figure.value, t.warn):
            self.first_warning = figure
