"""Sliding windows over per-second figures, and an `over` threshold judged on them."""

from __future__ import annotations

from typing import Any

import pytest

from perfrun.judge.thresholds import evaluate
from perfrun.metrics.histogram import counts_index
from perfrun.metrics.timeline import Timeline
from perfrun.metrics.windows import SlidingWindow, WindowFigure, WindowWatch
from perfrun.report.model import FailedWindow, VerdictStatus
from perfrun.scenario.model import Threshold


def about(ms: float) -> Any:
    """A latency as HDR buckets give it back: within 1 %."""
    return pytest.approx(ms, rel=0.01)


def timeline_of(seconds: list[tuple[int, float, int]]) -> Timeline:
    """(second, latency s, errors): one success of that latency per second, and errors."""
    timeline = Timeline(origin=0.0)
    for second, latency, errors in seconds:
        timeline.record(second + 0.5, latency, True)
        for _ in range(errors):
            timeline.record(second + 0.6, 0.0, False)
    return timeline


def test_window_keeps_only_its_last_seconds() -> None:
    window = SlidingWindow(3)
    for ms in (10, 20, 30, 40):
        window.push(2, 1, {counts_index(ms / 1000): 1})
    assert window.current(("latency_ms", "max")).start_s == 1
    assert window.figure(("latency_ms", "p50")) == pytest.approx(30, rel=0.01)
    assert window.figure(("latency_ms", "max")) == pytest.approx(40, rel=0.01)
    assert window.figure(("requests", "rps")) == 2.0
    assert window.figure(("requests", "error_rate")) == 50.0
    assert window.figure(("requests", "success_rate")) == 50.0
    assert len(window._seconds) == 3  # O(window), whatever the run's length


def test_empty_window_has_no_latency_but_a_zero_rate() -> None:
    window = SlidingWindow(2)
    window.push(0, 0, {})
    window.push(0, 0, {})
    assert window.figure(("latency_ms", "p95")) is None
    assert window.figure(("requests", "rps")) == 0.0
    assert window.figure(("requests", "error_rate")) is None


def slow_from(second: int, length: int = 10) -> Timeline:
    return timeline_of([(s, 0.9 if s >= second else 0.1, 0) for s in range(length)])


@pytest.mark.parametrize(
    ("timeline", "over", "status", "window"),
    [
        (slow_from(99), 3, VerdictStatus.PASS, None),
        (slow_from(6), 3, VerdictStatus.FAIL, FailedWindow(4, 7, about(901))),
        (slow_from(6), 5, VerdictStatus.FAIL, FailedWindow(2, 7, about(901))),
    ],
)
def test_over_threshold_names_the_first_failing_window(
    timeline: Timeline, over: int, status: VerdictStatus, window: FailedWindow | None
) -> None:
    threshold = Threshold.from_key("max_max_response_ms", 500, over=over)
    watch = WindowWatch(threshold)
    watch.advance(timeline, 10)
    watch.finish()
    (verdict,) = evaluate((threshold,), {}, windows={threshold.label: watch})
    assert verdict.status == status
    assert verdict.window == window
    assert verdict.over_s == over


def test_whole_run_passes_where_a_window_fails() -> None:
    """The reason for windows: one bad stretch in a long run hides in its average."""
    timeline = timeline_of([(s, 0.9 if s in (20, 21) else 0.1, 0) for s in range(60)])
    threshold = Threshold.from_key("max_avg_response_ms", 200, over=2)
    watch = WindowWatch(threshold)
    watch.advance(timeline, 60)
    # [19, 21) averages 100 and 900 ms: the first window over the limit.
    assert watch.first_failure == WindowFigure(19, 21, about(500))
    assert watch.worst == WindowFigure(20, 22, about(900))


def test_window_warns_before_it_fails() -> None:
    timeline = timeline_of([(s, 0.3 if s < 5 else 0.9, 0) for s in range(10)])
    threshold = Threshold.from_key("max_p95_response_ms", 500, warn=200, over=2)
    watch = WindowWatch(threshold)
    watch.advance(timeline, 10)
    assert watch.first_warning is not None and watch.first_warning.start_s == 0
    assert watch.first_failure is not None and watch.first_failure.start_s == 4


def test_a_run_shorter_than_its_window_is_judged_as_one_window() -> None:
    threshold = Threshold.from_key("max_max_response_ms", 500, over=30)
    watch = WindowWatch(threshold)
    watch.advance(slow_from(2, length=5), 5)
    assert watch.judged == 0
    watch.finish()
    assert watch.failed and watch.first_failure == WindowFigure(0, 5, about(901))


def test_windows_start_after_the_warmup() -> None:
    threshold = Threshold.from_key("max_max_response_ms", 500, over=2)
    watch = WindowWatch(threshold, start=3)
    watch.advance(timeline_of([(s, 0.9 if s < 3 else 0.1, 0) for s in range(8)]), 8)
    assert not watch.failed and watch.worst is not None and watch.worst.start_s >= 3


def test_min_rps_window_counts_seconds_without_requests() -> None:
    timeline = timeline_of([(s, 0.01, 0) for s in range(10) if s not in (4, 5, 6)])
    threshold = Threshold.from_key("min_rps", 0.3, over=3)  # [3, 6) has 1/3 req/s
    watch = WindowWatch(threshold)
    watch.advance(timeline, 10)
    assert watch.first_failure == WindowFigure(4, 7, 0.0)


def test_a_window_threshold_with_nothing_to_judge_is_not_measured_and_says_why() -> None:
    threshold = Threshold.from_key("max_p95_response_ms", 500, over=2)
    watch = WindowWatch(threshold)
    watch.advance(Timeline(origin=0.0), 5)  # five empty seconds: no latency at all
    watch.finish()
    (verdict,) = evaluate((threshold,), {}, windows={threshold.label: watch})
    assert verdict.status == VerdictStatus.NOT_MEASURED
    assert verdict.note.startswith("no window had a figure")


def test_a_run_shorter_than_a_second_is_one_window() -> None:
    timeline = Timeline(origin=0.0)
    for i in range(40):
        timeline.record(0.001 * i, 0.001, True)
    threshold = Threshold.from_key("max_p95_response_ms", 500, over=1)
    watch = WindowWatch(threshold)
    watch.advance(timeline, 0)  # no whole second measured
    watch.advance(timeline, 1)  # what judge.build does then: the part-second too
    watch.finish()
    assert watch.worst == WindowFigure(0, 1, about(1))


def test_a_shares_window_scales_its_rate_to_the_whole_and_nothing_else() -> None:
    """A worker's window sees one of `shares` shares: 2 req/s of 4 shares is 8 req/s of
    load, while shares of requests (error rate) and latencies are the share's own."""
    whole, share = SlidingWindow(2), SlidingWindow(2, shares=4)
    for window in (whole, share):
        for _ in range(2):
            window.push(2, 1, {counts_index(0.010): 1})
    assert whole.figure(("requests", "rps")) == 2.0
    assert share.figure(("requests", "rps")) == 8.0
    for path in (("requests", "error_rate"), ("latency_ms", "p95")):
        assert share.figure(path) == whole.figure(path)


def test_the_rests_between_leak_cycles_are_not_windows_of_no_load() -> None:
    """Two cycles of 3 s at 1 req/s with a 5 s rest between: no window of `min_rps`
    over 3 s falls below 1 when the rest's seconds are left out; taken in, the rest
    would read as seconds of no load and fail."""
    timeline = timeline_of([(s, 0.01, 0) for s in (0, 1, 2, 8, 9, 10)])
    threshold = Threshold.from_key("min_rps", 1, over=3)
    judged = []
    for rests in ((), ((3.0, 8.0),)):
        watch = WindowWatch(threshold)
        watch.advance(timeline, 11, rests)
        watch.finish()
        judged.append(watch.failed)
    assert judged == [True, False]


def test_a_run_shorter_than_its_window_is_judged_on_how_long_it_lasted() -> None:
    """100 requests in 1.2 s, `min_rps` over 5 s: one window, all of the run, whose
    rate is 100 / 1.2 s (83 req/s), not 100 / 2 whole seconds (50)."""
    timeline = Timeline(origin=0.0)
    for n in range(100):
        timeline.record(n * 0.012, 0.001, True)
    watch = WindowWatch(Threshold.from_key("min_rps", 60, over=5))
    watch.advance(timeline, 2)
    watch.finish(seconds=1.2)
    assert watch.worst is not None
    assert watch.worst.value == pytest.approx(100 / 1.2)
    assert not watch.failed
