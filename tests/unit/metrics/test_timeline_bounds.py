"""The timeline's memory is small per second and bounded for a run of any length, and
coarsening, merging and pickling lose nothing: every point's counts and percentiles are
those a full HdrHistogram of the same requests gives (issue 9)."""

from __future__ import annotations

import gc
import pickle
import random
import tracemalloc
from collections.abc import Callable

import pytest

from perfrun.metrics.histogram import LatencyHistogram, counts_index, sparse_percentiles_ms
from perfrun.metrics.timeline import MAX_POINTS, Timeline

PERCENTILES = (0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)

Event = tuple[float, float, bool]
"""(finished, latency, ok) as Timeline.record takes them."""


def _events(seconds: int, rate: int, latency: Callable[[random.Random], float]) -> list[Event]:
    rng = random.Random(seconds * 7919 + rate)
    return [
        (s + i / rate, latency(rng), rng.random() > 0.02)
        for s in range(seconds)
        for i in range(rate)
    ]


def _nginx_like(rng: random.Random) -> float:
    return rng.lognormvariate(-8.0, 0.3)  # ~0.3 ms, tight


def _wide(rng: random.Random) -> float:
    return rng.lognormvariate(-5.0, 1.5)  # ~7 ms, spread over four decades


def _record(timeline: Timeline, events: list[Event]) -> Timeline:
    for finished, latency, ok in events:
        timeline.record(finished, latency, ok)
    return timeline


def _expected(events: list[Event], span: int) -> dict[int, tuple[int, int, LatencyHistogram]]:
    """Requests, errors and a full histogram of the successes, per span: the reference."""
    out: dict[int, tuple[int, int, LatencyHistogram]] = {}
    for finished, latency, ok in events:
        t = int(finished) // span * span
        requests, errors, histogram = out.get(t) or (0, 0, LatencyHistogram())
        if ok:
            histogram.record(latency)
        out[t] = (requests + 1, errors + (not ok), histogram)
    return out


def _assert_same(timeline: Timeline, events: list[Event]) -> None:
    expected = _expected(events, timeline.span)
    points = timeline.seconds()
    assert sorted(points) == sorted(expected)
    for t, point in points.items():
        requests, errors, histogram = expected[t]
        assert (point.requests, point.errors) == (requests, errors)
        assert point.percentiles_ms(PERCENTILES) == [
            histogram.percentile_ms(p) for p in PERCENTILES
        ], f"point at {t} s"


@pytest.mark.parametrize(
    "values_s",
    [
        [0.000_25],
        [0.0001 * i for i in range(1, 400)],
        [0.000_2] * 50 + [2.5] * 3,  # bimodal: fast, and a few slow ones
        [0.0, 1e-9, 0.000_001, 9_999.0],  # clamped at both ends of the layout
        [random.Random(5).lognormvariate(-5.0, 2.0) for _ in range(5_000)],
    ],
    ids=["one", "linear", "bimodal", "clamped", "lognormal"],
)
def test_sparse_percentiles_equal_hdr_histogram(values_s: list[float]) -> None:
    histogram, counts = LatencyHistogram(), dict[int, int]()
    for value in values_s:
        histogram.record(value)
        counts[counts_index(value)] = counts.get(counts_index(value), 0) + 1
    assert sparse_percentiles_ms(counts, PERCENTILES) == [
        histogram.percentile_ms(p) for p in PERCENTILES
    ]
    assert LatencyHistogram.from_counts(counts).count == len(values_s)


def test_sparse_percentiles_of_nothing_are_none() -> None:
    assert sparse_percentiles_ms({}, (50.0, 99.0)) == [None, None]


@pytest.mark.parametrize("latency", [_nginx_like, _wide], ids=["nginx_like", "wide"])
def test_timeline_per_second_matches_a_histogram_per_second(
    latency: Callable[[random.Random], float],
) -> None:
    events = _events(20, 500, latency)
    timeline = _record(Timeline(0.0), events)
    assert timeline.span == 1
    _assert_same(timeline, events)


def test_timeline_memory_per_second_is_small_and_allocates_no_histogram() -> None:
    events = _events(120, 2_000, _nginx_like)
    first, second = events[: len(events) // 2], events[len(events) // 2 :]
    gc.collect()
    tracemalloc.start()
    try:
        timeline = _record(Timeline(0.0), first)
        gc.collect()
        at_60s = tracemalloc.get_traced_memory()[0]
        _record(timeline, second)
        gc.collect()
        at_120s, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(timeline.seconds()) == 120
    # A finished second of 2,000 requests packs into a few hundred bytes (the open
    # seconds' counts are a fixed ~60 kB). The peak is zlib's working memory (~70 kB);
    # a full HdrHistogram per second (~190 kB of counts each, what this replaced, freed
    # only by the cyclic GC) would pile up above it.
    assert (at_120s - at_60s) / 60 < 800
    assert peak < 300_000


def test_wide_latencies_still_cost_little_per_second() -> None:
    events = _events(30, 2_000, _wide)
    timeline = _record(Timeline(0.0), events)
    packed = len(pickle.dumps(timeline))
    assert packed / 30 < 3_000  # ~1,500 distinct buckets a second, ~1.5 bytes each


def test_long_run_keeps_at_most_max_points_and_loses_nothing() -> None:
    events = _events(1_000, 5, _wide)
    timeline = _record(Timeline(0.0, max_points=16), events)
    points = timeline.seconds()
    assert timeline.span == 64  # 1,000 s in at most 16 points
    assert len(points) <= 16
    assert sum(p.requests for p in points.values()) == len(events)
    _assert_same(timeline, events)


def test_default_bound_is_per_second_for_half_an_hour_then_doubles() -> None:
    timeline = Timeline(0.0)
    timeline.record(MAX_POINTS - 0.5, 0.001, True)
    assert timeline.span == 1
    timeline.record(MAX_POINTS + 0.5, 0.001, True)
    assert timeline.span == 2
    assert list(timeline.seconds()) == [MAX_POINTS - 2, MAX_POINTS]


def test_memory_stays_bounded_however_long_the_run() -> None:
    def retained(seconds: int) -> int:
        # A target whose latencies take 300 distinct values: what a point holds is bounded
        # by the distinct buckets, so memory stops growing once the points are coarse.
        events = _events(seconds, 20, lambda rng: 0.000_1 * rng.randrange(1, 300))
        gc.collect()
        tracemalloc.start()
        try:
            timeline = _record(Timeline(0.0, max_points=64), events)
            gc.collect()
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(timeline.seconds()) <= 64
        return size

    # 8 times the run: the same 64 points, each spanning 8 times as long.
    short, long = retained(1_024), retained(8_192)
    assert long < 1.25 * short


def test_stragglers_count_in_their_own_second() -> None:
    events: list[Event] = [(0.2, 0.001, True), (1.1, 0.002, True), (0.9, 0.003, False)]
    events += [(2.5, 0.004, True), (0.95, 0.005, True), (3.1, 0.001, True)]
    timeline = _record(Timeline(0.0), events)
    _assert_same(timeline, events)


def test_stragglers_across_a_doubling_count_in_their_span() -> None:
    events: list[Event] = [(t + 0.5, 0.001 * (1 + t % 7), True) for t in range(12)]
    events += [(3.7, 0.05, False), (9.9, 0.2, True), (0.1, 0.3, True)]
    timeline = _record(Timeline(0.0, max_points=4), events)
    assert timeline.span == 4
    _assert_same(timeline, events)


@pytest.mark.parametrize("split_at", [0, 300, 700], ids=["same_span", "finer", "coarser"])
def test_merged_workers_equal_one_timeline(split_at: int) -> None:
    events = _events(1_000, 3, _wide)
    # Worker a saw only the start (or everything interleaved): their spans differ.
    a_events = [e for i, e in enumerate(events) if e[0] < split_at or i % 2]
    b_events = [e for i, e in enumerate(events) if not (e[0] < split_at or i % 2)]
    a = _record(Timeline(0.0, max_points=32), a_events)
    b = _record(Timeline(0.0, max_points=32), b_events)
    a.merge(pickle.loads(pickle.dumps(b)))
    one = _record(Timeline(0.0, max_points=32), events)
    assert a.span == one.span == 32
    _assert_same(a, events)


def test_pickled_timeline_keeps_recording() -> None:
    events = _events(10, 100, _nginx_like)
    timeline = _record(Timeline(0.0), events[:500])
    back = pickle.loads(pickle.dumps(timeline))
    _record(timeline, events[500:])
    _record(back, events[500:])
    _assert_same(timeline, events)
    _assert_same(back, events)


def test_last_full_second_is_exact_once_points_are_coarse() -> None:
    timeline = Timeline(0.0, max_points=4)
    for second, count in [(8, 3), (9, 5), (10, 7)]:
        for i in range(count):
            timeline.record(second + i / count, 0.001, True)
    assert timeline.span == 4
    assert (timeline.requests_in(9), timeline.requests_in(10)) == (5, 7)
