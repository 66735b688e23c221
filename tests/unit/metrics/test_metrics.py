"""Histogram, timeline and scenario stats: exact counts, percentiles, lossless merging."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from perfrun.metrics.histogram import (
    HIGHEST_US,
    LOWEST_US,
    LatencyHistogram,
    SparseHistogram,
    clamp_us,
    index_of,
)
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import EndpointStats, ScenarioStats
from perfrun.metrics.timeline import Timeline


def _hist(values_ms: list[float]) -> LatencyHistogram:
    h = LatencyHistogram()
    for v in values_ms:
        h.record(v / 1000.0)
    return h


def test_empty_histogram_reports_none() -> None:
    summary = LatencyHistogram().summary_ms()
    assert set(summary) == {"min", "avg", "p50", "p75", "p90", "p95", "p99", "p999", "max"}
    assert all(v is None for v in summary.values())


@pytest.mark.parametrize(
    ("percentile", "expected_ms"),
    [(50, 500), (75, 750), (90, 900), (95, 950), (99, 990), (99.9, 999), (100, 1000)],
)
def test_percentiles_of_uniform_values_within_three_digits(
    percentile: float, expected_ms: float
) -> None:
    h = _hist([float(i) for i in range(1, 1001)])
    assert h.percentile_ms(percentile) == pytest.approx(expected_ms, rel=1e-3)


def test_average_is_exact_not_bucketed() -> None:
    h = _hist([1.0, 2.0, 1000.0])
    assert h.summary_ms()["avg"] == pytest.approx(1003 / 3, abs=1e-3)
    assert h.summary_ms()["min"] == pytest.approx(1.0, rel=1e-3)
    assert h.summary_ms()["max"] == pytest.approx(1000.0, rel=1e-3)


def test_merge_equals_recording_everything_in_one() -> None:
    a, b = _hist([1, 2, 3, 400]), _hist([5, 6, 7000])
    a.merge(b)
    assert a.summary_ms() == _hist([1, 2, 3, 400, 5, 6, 7000]).summary_ms()


def test_encode_decode_is_lossless() -> None:
    h = _hist([0.05, 1.5, 20, 20, 21, 3000, 90_000])
    back = LatencyHistogram.decode(h.encode())
    assert back.count == 7
    assert back.summary_ms() == h.summary_ms()


def test_values_out_of_range_are_clamped_not_lost() -> None:
    h = LatencyHistogram()
    h.record(0.0)
    h.record(10_000.0)  # ~2.8 hours
    assert h.count == 2
    assert h.summary_ms()["max"] == pytest.approx(3_600_000, rel=1e-3)


def test_timeline_buckets_by_completion_second() -> None:
    t = Timeline(origin=100.0)
    for finished, ok in [
        (100.1, True),
        (100.9, True),
        (101.2, False),
        (101.5, True),
        (103.0, True),
    ]:
        t.record(finished, 0.010, ok)
    seconds = t.seconds()
    assert {s: (b.requests, b.errors) for s, b in seconds.items()} == {
        0: (2, 0),
        1: (2, 1),
        3: (1, 0),
    }
    assert seconds[0].histogram().count == 2
    assert seconds[1].histogram().percentile_ms(50) == pytest.approx(10.0, rel=1e-3)
    assert t.requests_in(1) == 2
    assert t.requests_in(2) == 0


def test_timeline_merge_adds_counts_and_histograms() -> None:
    a, b = Timeline(0.0), Timeline(0.0)
    a.record(0.5, 0.001, True)
    b.record(0.7, 0.003, True)
    b.record(1.2, 0.002, False)
    a.merge(b)
    seconds = a.seconds()
    assert (seconds[0].requests, seconds[1].requests, seconds[1].errors) == (2, 1, 1)
    assert seconds[0].histogram().count == 2


def _result(
    endpoint: str, started: float, ms: float, error: ErrorKind | None = None
) -> RequestResult:
    return RequestResult(
        endpoint, started, ms / 1000, 500 if error else 200, 10, error, "boom" if error else ""
    )


def test_scenario_stats_count_per_endpoint_and_kind() -> None:
    stats = ScenarioStats(origin=0.0)
    stats.record(_result("a", 0.0, 10))
    stats.record(_result("a", 0.1, 20))
    stats.record(_result("b", 0.2, 30, ErrorKind.HTTP_5XX))
    stats.record(_result("b", 1.5, 40, ErrorKind.TIMEOUT))
    assert (stats.overall.total, stats.overall.succeeded, stats.overall.failed) == (4, 2, 2)
    assert dict(stats.overall.errors) == {"http_5xx": 1, "timeout": 1}
    assert stats.endpoints["a"].succeeded == 2
    assert stats.endpoints["b"].failed == 2
    assert stats.overall.latency.count == 2  # successes only
    assert stats.overall.failed_latency.count == 2
    assert stats.window == pytest.approx(1.54)
    assert stats.error_samples == {"http_5xx": "boom", "timeout": "boom"}
    assert stats.overall.bytes_received == 40


def test_scenario_stats_merge_is_the_same_as_one_accumulator() -> None:
    results = [
        _result("a", i * 0.1, 5 + i, ErrorKind.RESET if i % 4 == 0 else None) for i in range(40)
    ]
    one = ScenarioStats(0.0)
    left, right = ScenarioStats(0.0), ScenarioStats(0.0)
    for i, r in enumerate(results):
        one.record(r)
        (left if i % 2 else right).record(r)
    left.merge(right)
    assert left.overall.total == one.overall.total
    assert left.overall.latency.summary_ms() == one.overall.latency.summary_ms()
    assert dict(left.overall.errors) == dict(one.overall.errors)
    assert left.window == pytest.approx(one.window)
    assert {s: b.requests for s, b in left.timeline.seconds().items()} == {
        s: b.requests for s, b in one.timeline.seconds().items()
    }


@pytest.mark.parametrize(
    "values_us",
    [
        [1, 2, 3, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096],
        [19_999, 20_000, 20_001, 123_456, 999_999, 1_000_000, 3_599_999_999, 3_600_000_000],
        [*range(1, 5000, 7), 7_777_777, 88_888_888, 1_234_567_890],
    ],
)
def test_inlined_record_counts_exactly_like_hdrhistogram(values_us: list[int]) -> None:
    from hdrh.histogram import HdrHistogram

    reference = HdrHistogram(1, 3_600_000_000, 3)
    ours = LatencyHistogram()
    for us in values_us:
        reference.record_value(us)
        ours.record(us / 1e6)
    assert ours.counts == list(reference.counts)
    hdr = ours._hdr()
    assert list(hdr.counts) == list(reference.counts)
    assert hdr.get_total_count() == reference.get_total_count()
    assert hdr.get_min_value() == reference.get_min_value()
    assert hdr.get_max_value() == reference.get_max_value()
    # The hot path's form (clamp, index, EndpointStats.success) counts the same; so does
    # a round trip.
    endpoint = EndpointStats()
    for us in values_us:
        clamped = clamp_us(us / 1e6)
        endpoint.success(index_of(clamped), clamped, 0)
    assert endpoint.latency.counts == ours.counts
    assert endpoint.latency.summary_ms() == ours.summary_ms()
    for p in (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert ours.percentile_ms(p) == reference.get_value_at_percentile(p) / 1000.0
    decoded = LatencyHistogram.decode(ours.encode())
    assert decoded.counts == ours.counts
    assert decoded.summary_ms() == ours.summary_ms()


@pytest.mark.parametrize(
    ("seconds", "us"),
    [
        (-5.0, 1),  # a clock read out of order: clamped, never negative
        (-0.0000007, 1),  # rounds to -1 (floor) or 0 (int): both clamp to the lowest
        (0.0, 1),
        (0.0000014, 1),
        (0.0000015, 2),  # half up
        (0.0000024999, 2),
        (0.25, 250_000),
        (3_600.0, 3_600_000_000),
        (1e9, 3_600_000_000),  # past an hour: clamped to the highest
    ],
)
def test_seconds_become_whole_microseconds_rounded_half_up_and_clamped(
    seconds: float, us: int
) -> None:
    assert clamp_us(seconds) == us
    histogram = LatencyHistogram()
    histogram.record(seconds)  # record rounds and clamps as clamp_us does
    assert histogram.sum_us == us
    assert histogram.counts[index_of(us)] == 1


def test_values_under_2_ms_are_their_own_index() -> None:
    """The layout's first bucket counts every microsecond up to 2,048."""
    assert all(index_of(us) == us for us in range(1, 2048))
    assert index_of(2049) == index_of(2048)  # past it, values share


def test_index_of_is_hdrhistograms_index() -> None:
    """The shortcut for small values and the bucket arithmetic give the index
    HdrHistogram itself gives, on both sides of every bucket's edge."""
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, 3)
    edges = [1 << shift for shift in range(1, 32)]
    values = {1, 2047, 2048, 2049, HIGHEST_US} | {e + d for e in edges for d in (-1, 0, 1)}
    for us in sorted(v for v in values if LOWEST_US <= v <= HIGHEST_US):
        assert index_of(us) == hdr._counts_index_for(us), us


def test_answers_follow_records_made_after_a_question() -> None:
    histogram = LatencyHistogram()
    histogram.record(0.001)
    assert histogram.percentile_ms(100.0) == pytest.approx(1.0, rel=1e-3)
    histogram.record(0.5)
    assert histogram.percentile_ms(100.0) == pytest.approx(500.0, rel=1e-3)
    assert histogram.count == 2


def test_sparse_histogram_answers_as_the_full_one() -> None:
    """SparseHistogram (phases) counts in LatencyHistogram's buckets, clamped alike,
    with the same exact sum."""
    rng = random.Random(7)
    values = [rng.choice((0.0, 1e-7, rng.uniform(1e-5, 2.0), 4000.0)) for _ in range(3000)]
    full, sparse = LatencyHistogram(), SparseHistogram()
    for seconds in values:
        full.record(seconds)
        sparse.record(seconds)
    assert {i: c for i, c in enumerate(full.counts) if c} == sparse.counts
    assert (sparse.total, sparse.sum_us) == (full.total, full.sum_us)
    assert sparse.summary_ms() == full.summary_ms()
