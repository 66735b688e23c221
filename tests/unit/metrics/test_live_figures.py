"""The live figures the exporters read: cumulative latency buckets read off the HDR counts,
error kinds, warm-up included; several processes' parts summed; a Dask event's trip."""

from __future__ import annotations

import dataclasses

import pytest

from perfrun.metrics.histogram import LatencyHistogram
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import LIVE_BOUNDS_S, LiveFigures, LiveLatency, ScenarioStats


def _histogram(*seconds: float) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in seconds:
        histogram.record(value)
    return histogram


def _at(bound: float, latency: LiveLatency) -> int:
    return latency.cumulative[LIVE_BOUNDS_S.index(bound)]


@pytest.mark.parametrize(
    ("values", "bound", "expected"),
    [
        ((), 0.001, 0),
        ((0.0005,), 0.001, 1),
        ((0.001,), 0.001, 1),  # a bucket counts values at its bound ("le")
        ((0.00101,), 0.001, 0),
        ((0.00101,), 0.0025, 1),
        ((0.004, 0.006, 0.2, 0.3), 0.005, 1),
        ((0.004, 0.006, 0.2, 0.3), 0.25, 3),
        ((0.004, 0.006, 0.2, 0.3), 60.0, 4),
        ((120.0,), 60.0, 0),  # only in +Inf, which is `count`
    ],
)
def test_live_latency_counts_values_at_or_below_each_bound(
    values: tuple[float, ...], bound: float, expected: int
) -> None:
    latency = LiveLatency.of(_histogram(*values))
    assert _at(bound, latency) == expected
    assert latency.count == len(values)
    assert latency.sum_s == pytest.approx(sum(values), abs=1e-6 * (len(values) + 1))
    assert list(latency.cumulative) == sorted(latency.cumulative)  # cumulative


def test_live_latency_of_several_histograms_is_their_sum_and_parts_add_up() -> None:
    a, b = _histogram(0.002, 0.04), _histogram(0.002, 3.0, 0.0001)
    together = LiveLatency.of(a, b)
    assert together == LiveLatency.of(a) + LiveLatency.of(b)
    assert together.count == 5
    assert _at(0.0025, together) == 3
    assert _at(0.05, together) == 4
    assert _at(5.0, together) == 5
    assert LiveLatency.of() == LiveLatency() == LiveLatency.of(LatencyHistogram())


def _result(error: ErrorKind | None, started: float, latency: float = 0.01) -> RequestResult:
    return RequestResult("get", started, latency, 200 if error is None else 500, 10, error)


def test_live_counts_warmup_requests_in_the_exporters_figures() -> None:
    stats = ScenarioStats(origin=100.0, warmup=1.0)
    stats.record(_result(None, 100.2))  # warm-up
    stats.record(_result(ErrorKind.TIMEOUT, 100.3))  # warm-up
    stats.record(_result(None, 102.0, 0.5))
    stats.record(_result(ErrorKind.HTTP_5XX, 102.1))
    stats.record(_result(ErrorKind.HTTP_5XX, 102.2))
    live = stats.live()
    assert live.done == 5
    assert live.errors == 2  # the progress line: measured requests only, as before
    assert live.error_kinds == {"timeout": 1, "http_5xx": 2}
    assert live.latency.count == 2
    assert _at(0.01, live.latency) == 1 and _at(0.5, live.latency) == 2


def test_total_sums_processes_parts() -> None:
    one = LiveFigures(10, 1, 5, 3.0, {"timeout": 1}, LiveLatency.of(_histogram(0.001)))
    two = LiveFigures(20, 2, 7, 9.0, {"timeout": 1, "reset": 1}, LiveLatency.of(_histogram(1)))
    total = LiveFigures.total([one, two])
    assert (total.done, total.errors, total.last_second, total.p95_ms) == (30, 3, 12, 9.0)
    assert total.error_kinds == {"timeout": 2, "reset": 1}
    assert total.latency == one.latency + two.latency
    assert LiveFigures.total([]) == LiveFigures(0, 0, 0, None)


def test_live_figures_come_back_from_a_dask_events_payload() -> None:
    figures = LiveFigures(3, 1, 2, 1.5, {"reset": 1}, LiveLatency.of(_histogram(0.003, 0.2)))
    payload = dataclasses.asdict(figures)
    # msgpack, on the way from a Dask worker, turns tuples into lists.
    payload["latency"]["cumulative"] = list(payload["latency"]["cumulative"])
    assert LiveFigures.from_dict(payload) == figures
