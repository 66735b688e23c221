"""The timeline's gauges: what the load's loop samples once a second (bytes received, requests
in flight) lands in the right second, survives coarsening, pickling and merging, and sums
across workers."""

from __future__ import annotations

import pickle

import pytest

from perfrun.metrics.timeline import Gauge, Timeline

ORIGIN = 1000.0


def _figures(timeline: Timeline) -> dict[int, tuple[int, int, int]]:
    return {t: (g.received, g.in_flight, g.sampled) for t, g in timeline.gauges().items()}


def test_each_second_gets_the_bytes_received_since_the_last_sample() -> None:
    timeline = Timeline(ORIGIN)
    timeline.sample(0, 1_000, 5)
    timeline.sample(1, 3_500, 7)
    timeline.sample(2, 3_500, 0)
    assert _figures(timeline) == {0: (1_000, 5, 1), 1: (2_500, 7, 1), 2: (0, 0, 1)}


def test_the_final_sample_goes_to_the_newest_completions_second_without_in_flight() -> None:
    timeline = Timeline(ORIGIN)
    timeline.success(ORIGIN + 0.5, 100)
    timeline.sample(0, 400, 3)
    timeline.success(ORIGIN + 1.2, 100)
    timeline.sample(None, 900, None)  # the load ended at 1.2 s: second 1 is partial
    assert _figures(timeline) == {0: (400, 3, 1), 1: (500, 0, 0)}
    assert timeline.gauges()[1].mean_in_flight is None
    assert timeline.gauges()[0].mean_in_flight == 3.0


def test_a_final_sample_before_any_completion_goes_to_the_first_second() -> None:
    timeline = Timeline(ORIGIN)
    timeline.sample(None, 0, None)
    assert _figures(timeline) == {0: (0, 0, 0)}


@pytest.mark.parametrize(
    ("in_flight", "sampled", "mean"),
    [(0, 0, None), (10, 1, 10.0), (9, 2, 4.5), (0, 4, 0.0)],
)
def test_mean_in_flight_is_over_the_sampled_seconds(
    in_flight: int, sampled: int, mean: float | None
) -> None:
    assert Gauge(0, in_flight, sampled).mean_in_flight == mean


def test_gauges_coarsen_with_the_points_and_keep_every_byte() -> None:
    timeline = Timeline(ORIGIN, max_points=4)
    for second in range(8):
        timeline.success(ORIGIN + second + 0.5, 100)
        timeline.sample(second, 100 * (second + 1), second)
    assert timeline.span == 2
    gauges = _figures(timeline)
    assert sorted(gauges) == [0, 2, 4, 6]
    assert gauges[6] == (200, 6 + 7, 2)
    assert sum(received for received, _, _ in gauges.values()) == 800
    assert timeline.gauges()[6].mean_in_flight == 6.5


def test_gauges_cross_processes_pickled() -> None:
    timeline = Timeline(ORIGIN)
    timeline.success(ORIGIN + 0.5, 100)
    timeline.sample(0, 1234, 17)
    copy = pickle.loads(pickle.dumps(timeline))
    assert _figures(copy) == {0: (1234, 17, 1)}


def test_workers_gauges_sum_and_their_seconds_count_once() -> None:
    mine, theirs = Timeline(ORIGIN), Timeline(ORIGIN)
    for second in range(3):
        mine.success(ORIGIN + second + 0.5, 100)
        mine.sample(second, 100 * (second + 1), 4)
    for second in range(2):  # this worker's share ended a second earlier
        theirs.success(ORIGIN + second + 0.5, 100)
        theirs.sample(second, 50 * (second + 1), 6)
    mine.merge(theirs)
    assert _figures(mine) == {0: (150, 10, 1), 1: (150, 10, 1), 2: (100, 4, 1)}
    assert mine.gauges()[0].mean_in_flight == 10.0


def test_a_finer_workers_gauges_are_coarsened_before_they_are_added() -> None:
    coarse, fine = Timeline(ORIGIN, max_points=4), Timeline(ORIGIN, max_points=4)
    for second in range(8):
        coarse.success(ORIGIN + second + 0.5, 100)
        coarse.sample(second, 10 * (second + 1), 1)
    for second in range(4):
        fine.success(ORIGIN + second + 0.5, 100)
        fine.sample(second, 20 * (second + 1), 2)
    assert (coarse.span, fine.span) == (2, 1)
    coarse.merge(fine)
    gauges = _figures(coarse)
    # Seconds 0 and 1: 10 + 10 bytes and 1 + 1 in flight here, 20 + 20 and 2 + 2 there.
    assert gauges[0] == (60, 6, 2)
    assert gauges[2] == (60, 6, 2)
    assert gauges[4] == (20, 2, 2)
    assert coarse.gauges()[0].mean_in_flight == 3.0
