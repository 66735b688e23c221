"""The report's timeline points: how much of a point was measured (the load's last second
ends early), the rate rule that follows from it, and the users the schedule had running."""

from __future__ import annotations

import pytest

from perfrun.judge.build import _received_by_point, measured_seconds, scheduled_users
from perfrun.metrics.timeline import Gauge
from perfrun.report.model import TimelinePoint
from perfrun.scenario.model import LoadModel, LoadSpec, Stage


@pytest.mark.parametrize(
    ("t", "span", "end", "measured"),
    [
        (0, 1, 5.3, 1.0),  # a point before the end: whole
        (4, 1, 5.0, 1.0),  # ends exactly at the load's end
        (5, 1, 5.3, 0.3),  # the last second: measured up to the last completion
        (5, 1, 5.0, 0.0),  # the last completion at the second's very start
        (4, 4, 6.5, 2.5),  # a coarse point
        (3, 1, None, 1.0),  # nothing measured: whole
    ],
)
def test_a_point_is_measured_up_to_the_last_completion(
    t: int, span: int, end: float | None, measured: float
) -> None:
    assert measured_seconds(t, span, end) == pytest.approx(measured)


def _point(span_s: int = 1, measured_s: float | None = None) -> TimelinePoint:
    return TimelinePoint(
        t=0, requests=10, errors=0, p50_ms=1.0, p95_ms=1.0, p99_ms=1.0, target=None,
        warmup=False, span_s=span_s, measured_s=measured_s,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("span_s", "measured_s", "rate_s"),
    [
        (1, None, 1),  # a report of an earlier version: the whole span
        (1, 1.0, 1.0),
        (1, 0.6, 0.6),  # the last second, mostly measured: a rate over its part
        (1, 0.5, 0.5),
        (1, 0.49, None),  # too short to be a rate
        (1, 0.0, None),
        (4, 2.0, 2.0),
        (4, 1.5, None),
    ],
)
def test_a_rate_counts_over_the_measured_part_or_not_at_all(
    span_s: int, measured_s: float | None, rate_s: float | None
) -> None:
    assert _point(span_s, measured_s).rate_s == rate_s


RAMP = LoadSpec(users=4, duration=10.0, ramp_up=2.0)
STAGED = LoadSpec(stages=(Stage(10.0, 20.0), Stage(10.0, 0.0)))
OPEN = LoadSpec(model=LoadModel.OPEN, rate=50.0, duration=10.0)
REST = ((10.0, 15.0),)
"""Leak cycles: the first cycle's 10 s, a 5 s rest, the second cycle from 15 s."""


@pytest.mark.parametrize(
    ("load", "at", "rests", "users"),
    [
        (LoadSpec(users=5, duration=10.0), 0.5, (), 5.0),
        (RAMP, 0.2, (), 1.0),  # user i starts at i × 0.5 s
        (RAMP, 0.5, (), 2.0),
        (RAMP, 1.9, (), 4.0),
        (RAMP, 5.0, (), 4.0),
        (RAMP, 10.2, (), 4.0),  # after the duration: its users' last requests
        (LoadSpec(users=3, requests_per_user=10), 42.0, (), 3.0),
        (STAGED, 5.0, (), 10.0),
        (STAGED, 15.0, (), 10.0),
        (STAGED, 25.0, (), 0.0),
        (OPEN, 5.0, (), None),  # the open model has no users
        (RAMP, 12.0, REST, 0.0),  # resting between leak cycles
        (RAMP, 15.2, REST, 1.0),  # the second cycle ramps up again
        (RAMP, 20.0, REST, 4.0),
    ],
)
def test_users_follow_the_loads_schedule(
    load: LoadSpec, at: float, rests: tuple[tuple[float, float], ...], users: float | None
) -> None:
    assert scheduled_users(load, at, rests) == users


@pytest.mark.parametrize(
    ("sampled", "points", "received"),
    [
        ({0: 10, 1: 20}, [0, 1], {0: 10, 1: 20}),
        ({0: 10, 1: 20, 2: 5}, [0, 2], {0: 30, 2: 5}),  # second 1 had no completion
        ({0: 7, 3: 1}, [1, 2], {1: 7, 2: 1}),  # before the first point: to the first
        ({0: 7}, [], {}),
    ],
)
def test_every_byte_received_lands_in_a_point(
    sampled: dict[int, int], points: list[int], received: dict[int, int]
) -> None:
    gauges = {t: Gauge(received=n) for t, n in sampled.items()}
    assert _received_by_point(gauges, points) == received
