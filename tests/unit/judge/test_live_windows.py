"""Windows of a run longer than the timeline's per-second points: judged by the watches
that saw every second while the load ran (pure: records fed by hand)."""

from __future__ import annotations

from perfrun.execution.abort import AbortWatch
from perfrun.judge.build import judged_windows
from perfrun.metrics.result import RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.timeline import MAX_POINTS
from perfrun.scenario.model import Threshold


def test_a_long_runs_windows_come_from_what_was_watched_live() -> None:
    """One request a second for longer than the timeline keeps seconds, 50 ms each,
    and one slow stretch of 3 s in the middle: the 3 s window over it fails."""
    threshold = Threshold.from_key("max_p95_response_ms", 500, over=3)
    stats = ScenarioStats(origin=0.0)
    watch = AbortWatch((threshold,), warmup=0.0)
    seconds = MAX_POINTS + 500
    slow = range(1000, 1003)
    for second in range(seconds):
        latency = 0.9 if second in slow else 0.05
        stats.record(RequestResult("a", second + 0.1, latency, 200, 10))
        watch.check(stats, now=second + 1.05)
    assert stats.timeline.span > 1  # the timeline no longer has every second

    # Without the live watches there is nothing per second left to judge on.
    assert not judged_windows((threshold,), stats)[threshold.label].judged
    judged = judged_windows((threshold,), stats, watch.live)[threshold.label]
    assert judged.failed
    # The slow requests completed in seconds 1001-1003: the first window holding one.
    assert judged.first_failure is not None
    assert (judged.first_failure.start_s, judged.first_failure.end_s) == (999, 1002)
