"""`abort: true`: stop a scenario's load as soon as one of its window thresholds fails.

Checked on the load's own event loop once a second (see perfrun.run.drive), on the
seconds completed so far, by the same window judge the report uses afterwards
(perfrun.metrics.windows), so the window that stopped the run is the one the report
names. Memory is O(window) per threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.windows import WindowFigure, WindowWatch
from perfrun.scenario.metrics import BY_NAME
from perfrun.scenario.model import Threshold


@dataclass(frozen=True)
class Abort:
    """Which threshold stopped the load, when (seconds since the load started), and the
    window that failed."""

    threshold: str
    at_s: float
    window: WindowFigure
    unit: str = ""

    @property
    def message(self) -> str:
        """`aborted at 8.0s by max_p95_response_ms: window 5s–8s: 812.5 ms`."""
        w = self.window
        value = "-" if w.value is None else f"{w.value:.1f}"
        return (
            f"aborted at {self.at_s:.1f}s by {self.threshold}: window "
            f"{w.start_s}s–{w.end_s}s: {value} {self.unit}"
        ).rstrip()


class AbortWatch:
    """The scenario's `abort: true` thresholds, judged as the seconds complete."""

    def __init__(self, thresholds: Sequence[Threshold], warmup: float) -> None:
        start = math.ceil(warmup)
        self.watches = [WindowWatch(t, start) for t in thresholds if t.abort]
        self.aborted: Abort | None = None

    def __bool__(self) -> bool:
        return bool(self.watches)

    def check(self, stats: ScenarioStats, now: float) -> Abort | None:
        """Judge the windows that ended by `now` (a perf_counter time); the first failing
        threshold's Abort, also kept in `aborted`, or None."""
        until = int(now - stats.origin)
        timeline = stats.timeline
        for watch in self.watches:
            watch.advance(timeline, until)
            if watch.first_failure is not None:
                threshold = watch.threshold
                self.aborted = Abort(
                    threshold.label,
                    now - stats.origin,
                    watch.first_failure,
                    BY_NAME[threshold.metric].unit,
                )
                return self.aborted
        return None
