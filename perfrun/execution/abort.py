"""`abort: true`: stop a scenario's load as soon as one of its thresholds fails.

Checked on the load's own event loop once a second (see perfrun.execution.drive). With
`--workers`, each worker judges the windows and the latency peak on its own share (every
n-th user or request: a sample of the whole) and the parent judges the resource peaks;
the first to fail stops every worker (perfrun.execution.workers). The final verdicts are
judged on the merged figures, as always. A threshold
with `over` is judged on the seconds completed so far, by the same window judge the report
uses afterwards (perfrun.metrics.windows), so the window that stopped the run is the one
the report names; memory is O(window) per threshold. A threshold on a peak (a maximum over
the run: `max_max_response_ms`, `max_memory_mb`) needs no window: once the peak so far is
beyond the limit, the whole run's is too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perfrun.metrics.resources import Sample
from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.windows import WindowFigure, WindowWatch
from perfrun.scenario.metrics import BY_NAME
from perfrun.scenario.model import Threshold

Latest = Callable[[], Sample | None]
"""The resource monitor's latest sample (None before the first)."""


@dataclass(frozen=True)
class Abort:
    """Which threshold stopped the load, when (seconds since the load started), and the
    window that failed (None for a peak, whose value is then `window`-less)."""

    threshold: str
    at_s: float
    value: float
    unit: str = ""
    window: WindowFigure | None = None

    @property
    def message(self) -> str:
        """`aborted at 8.0s by max_p95_response_ms: window 5s–8s: 812.5 ms`."""
        where = "" if self.window is None else (
            f"window {self.window.start_s}s–{self.window.end_s}s: "
        )  # fmt: skip
        return (
            f"aborted at {self.at_s:.1f}s by {self.threshold}: {where}{self.value:.1f} {self.unit}"
        )


class AbortWatch:
    """The scenario's `abort: true` thresholds, judged as the run goes on."""

    def __init__(
        self, thresholds: Sequence[Threshold], warmup: float, latest: Latest | None = None,
        shares: int = 1,
    ) -> None:  # fmt: skip
        """`shares`: a worker's watch sees one of that many shares of the load (its
        request rates are scaled up to the whole's)."""
        start = math.ceil(warmup)
        self.live = {
            t.label: WindowWatch(t, start, shares) for t in thresholds if t.over is not None
        }
        """Every `over` threshold's windows, judged as the seconds come (the report's
        verdicts come from these once the timeline no longer keeps every second)."""
        aborting = [t for t in thresholds if t.abort]
        self.watches = [self.live[t.label] for t in aborting if t.over is not None]
        self.peaks = [t for t in aborting if t.over is None]
        self.latest = latest
        self.aborted: Abort | None = None

    def __bool__(self) -> bool:
        return bool(self.live or self.peaks)

    def check(self, stats: ScenarioStats, now: float) -> Abort | None:
        """Judge what was measured by `now` (a perf_counter time): the first failing
        threshold's Abort, also kept in `aborted`, or None."""
        at = now - stats.origin
        until = int(at)
        timeline = stats.timeline
        for watch in self.live.values():
            watch.advance(timeline, until, stats.rests)
        for watch in self.watches:
            failed = watch.first_failure
            if failed is not None and failed.value is not None:
                return self._abort(watch.threshold, at, failed.value, failed)
        for threshold in self.peaks:
            value = self._peak(threshold, stats)
            if value is not None and threshold.beyond(value, threshold.limit):
                return self._abort(threshold, at, value, None)
        return None

    def check_resources(self, at: float) -> Abort | None:
        """Judge the resource peaks alone (from the monitor's latest sample) at `at`
        seconds into the load: what the parent process of `--workers` can judge, its
        workers judging the rest on their shares."""
        for threshold in self.peaks:
            if BY_NAME[threshold.metric].path[0] == "latency_ms":
                continue
            value = self._peak(threshold, None)
            if value is not None and threshold.beyond(value, threshold.limit):
                return self._abort(threshold, at, value, None)
        return None

    def worker_aborted(self, abort: Abort) -> None:
        """A worker's watch stopped its share: the scenario is aborted (the first
        worker's reason is kept)."""
        if self.aborted is None:
            self.aborted = abort

    def _abort(
        self, threshold: Threshold, at: float, value: float, window: WindowFigure | None
    ) -> Abort:
        unit = BY_NAME[threshold.metric].unit
        self.aborted = Abort(threshold.label, at, value, unit, window)
        return self.aborted

    def _peak(self, threshold: Threshold, stats: ScenarioStats | None) -> float | None:
        """The peak so far: the slowest measured request, or the latest sample of a
        resource's series (`("resources", "target", "memory_mb", "max")` reads the
        sample's `target_memory_mb`)."""
        path = BY_NAME[threshold.metric].path
        if path[0] == "latency_ms":
            return stats.overall.latency.percentile_ms(100.0) if stats is not None else None
        sample = self.latest() if self.latest is not None else None
        if sample is None:
            return None
        value = getattr(sample, "_".join(path[1:-1]), None)
        return float(value) if isinstance(value, int | float) else None
