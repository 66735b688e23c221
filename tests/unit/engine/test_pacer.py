"""Load profiles, the open-model pacer and the saturation rules, as tables: no clock, no I/O."""

from __future__ import annotations

import pytest

from perfrun.engine.pacer import Pacer, Positions
from perfrun.engine.profile import Profile
from perfrun.judge.saturation import Evidence, assess
from perfrun.scenario.model import Arrival, Stage

CONSTANT_100 = Profile.constant(100.0, 10.0)
# k6 semantics: ramp 0 → 50 over 10 s, 50 → 400 over 5 s, 400 → 50 over 10 s
SPIKE = Profile.from_stages(0.0, [Stage(10, 50), Stage(5, 400), Stage(10, 50)])


@pytest.mark.parametrize(
    ("profile", "t", "value"),
    [
        (CONSTANT_100, 0.0, 100.0),
        (CONSTANT_100, 9.99, 100.0),
        (CONSTANT_100, 10.5, 0.0),
        (SPIKE, 0.0, 0.0),
        (SPIKE, 5.0, 25.0),
        (SPIKE, 10.0, 50.0),
        (SPIKE, 12.5, 225.0),
        (SPIKE, 15.0, 400.0),
        (SPIKE, 20.0, 225.0),
        (SPIKE, 25.0, 50.0),
    ],
)
def test_profile_interpolates_linearly_between_stage_targets(
    profile: Profile, t: float, value: float
) -> None:
    assert profile.value_at(t) == pytest.approx(value)


@pytest.mark.parametrize(
    ("profile", "t", "integral"),
    [
        (CONSTANT_100, 0.0, 0.0),
        (CONSTANT_100, 1.0, 100.0),
        (CONSTANT_100, 10.0, 1000.0),
        (CONSTANT_100, 99.0, 1000.0),
        (SPIKE, 10.0, 250.0),  # triangle 0→50 over 10 s
        (SPIKE, 15.0, 250.0 + 1125.0),  # + trapezoid 50→400 over 5 s
        (SPIKE, 25.0, 250.0 + 1125.0 + 2250.0),
    ],
)
def test_profile_integral_is_the_requests_due_by_t(
    profile: Profile, t: float, integral: float
) -> None:
    assert profile.integral(t) == pytest.approx(integral)


@pytest.mark.parametrize("amount", [0.0, 1.0, 17.5, 250.0, 251.0, 1000.0, 3000.0, 3624.0])
def test_profile_time_of_inverts_the_integral(amount: float) -> None:
    t = SPIKE.time_of(amount)
    assert t is not None
    assert SPIKE.integral(t) == pytest.approx(amount, abs=1e-6)


def test_profile_time_of_is_none_past_the_end() -> None:
    assert CONSTANT_100.time_of(1000.0) is None
    assert SPIKE.time_of(SPIKE.total) is None


def test_profile_skips_a_stage_held_at_zero() -> None:
    gap = Profile.from_stages(
        10.0, [Stage(1, 10), Stage(0.001, 0), Stage(2, 0), Stage(0.001, 10), Stage(1, 10)]
    )
    t = gap.time_of(10.5)
    assert t is not None and t > 3.0  # the first request after the pause comes after it


@pytest.mark.parametrize(
    ("elapsed", "hits", "wait", "stop"),
    [
        (0.0, 0, 0.0, False),  # the first request goes at once
        (0.0, 1, 0.01, False),  # 100/s: every 10 ms
        (0.005, 1, 0.005, False),
        (0.5, 10, 0.0, False),  # behind schedule: no wait, send now
        (9.99, 999, 0.0, False),
        (9.99, 1000, 0.0, True),  # 1000 requests in 10 s, then stop
        (20.0, 1000, 0.0, True),
    ],
)
def test_constant_rate_pacer(elapsed: float, hits: int, wait: float, stop: bool) -> None:
    got_wait, got_stop = Pacer(CONSTANT_100).pace(elapsed, hits)
    assert got_stop is stop
    assert got_wait == pytest.approx(wait, abs=1e-9)


def test_pacer_expects_rate_times_duration_requests() -> None:
    assert Pacer(CONSTANT_100).expected() == 1000
    assert Pacer(Profile.constant(3.0, 0.5)).expected() == 2  # at t=0 and t=1/3


def test_uniform_positions_count_one_by_one() -> None:
    positions = Positions(Arrival.UNIFORM)
    seen = []
    for _ in range(4):
        seen.append(positions.current)
        positions.advance()
    assert seen == [0.0, 1.0, 2.0, 3.0]


def test_poisson_positions_keep_the_mean_rate_with_random_gaps() -> None:
    positions = Positions(Arrival.POISSON, seed=3)
    gaps = []
    for _ in range(20_000):
        before = positions.current
        positions.advance()
        gaps.append(positions.current - before)
    mean = sum(gaps) / len(gaps)
    assert mean == pytest.approx(1.0, rel=0.03)
    assert min(gaps) < 0.01 and max(gaps) > 5  # exponential, not uniform


def _evidence(**changes: object) -> Evidence:
    base: dict[str, object] = {
        "loop_lag_p99_ms": 1.0,
        "loop_lag_max_ms": 3.0,
        "generator_cpu_percent": 30.0,
        "sent": 1000,
        "late": 0,
    }
    base.update(changes)
    return Evidence(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "saturated", "reason"),
    [
        ({}, False, None),
        ({"loop_lag_p99_ms": 24.9}, False, None),
        ({"loop_lag_p99_ms": 40.0}, True, "event-loop lag p99 40.0 ms"),
        ({"generator_cpu_percent": 89.0}, False, None),
        ({"generator_cpu_percent": 97.0}, True, "97% of a CPU core"),
        ({"late": 10}, False, None),
        ({"late": 11}, True, "11 of 1000 requests (1.1%) were sent late"),
        ({"generator_cpu_percent": None, "loop_lag_p99_ms": None}, False, None),
    ],
)
def test_saturation_is_flagged_by_any_sign_past_its_bound(
    changes: dict[str, object], saturated: bool, reason: str | None
) -> None:
    assessment = assess(_evidence(**changes))
    assert assessment.saturated is saturated
    if reason is None:
        assert assessment.reasons == ()
    else:
        assert any(reason in r for r in assessment.reasons), assessment.reasons


def test_every_sign_found_is_a_reason() -> None:
    assessment = assess(_evidence(loop_lag_p99_ms=80.0, generator_cpu_percent=100.0, late=500))
    assert len(assessment.reasons) == 3
