"""The Theil–Sen slope and its confidence interval, as tables (reference figures from
scipy.stats.theilslopes, which perfrun does not depend on)."""

from __future__ import annotations

import pytest

from perfrun.judge import trend
from perfrun.judge.trend import theil_sen


def line(slope: float, intercept: float, xs: range) -> list[tuple[float, float]]:
    return [(float(x), slope * x + intercept) for x in xs]


NOISY = list(zip(range(10), [1.0, 2.9, 5.2, 6.8, 9.1, 11.0, 12.7, 15.3, 17.0, 18.9], strict=True))
OUTLIERS = [(float(x), 1000.0 if x in (5, 14) else float(x)) for x in range(20)]
TIES = list(zip(range(8), [10, 10, 11, 11, 11, 12, 12, 13], strict=True))


@pytest.mark.parametrize(
    ("points", "slope", "low", "high"),
    [
        pytest.param(line(2.0, 1.0, range(10)), 2.0, 2.0, 2.0, id="exact line"),
        pytest.param(line(-0.5, 100.0, range(0, 60, 3)), -0.5, -0.5, -0.5, id="falling line"),
        pytest.param(line(0.0, 42.0, range(12)), 0.0, 0.0, 0.0, id="flat, all y tied"),
        pytest.param(NOISY, 2.0, 1.95, 2.0666667, id="noisy line (scipy)"),
        pytest.param(OUTLIERS, 1.0, 1.0, 1.0, id="two outliers of 20 (scipy)"),
        pytest.param(TIES, 0.4, 0.25, 0.5, id="tied y (scipy)"),
    ],
)
def test_theil_sen_slope_and_its_95_percent_interval(
    points: list[tuple[float, float]], slope: float, low: float, high: float
) -> None:
    result = theil_sen(points)
    assert result.slope == pytest.approx(slope)
    assert result.low == pytest.approx(low)
    assert result.high == pytest.approx(high)
    assert result.points == len(points)


@pytest.mark.parametrize(
    ("points", "slope"),
    [
        pytest.param([], None, id="no point"),
        pytest.param([(1.0, 5.0)], None, id="one point"),
        pytest.param([(1.0, 5.0), (1.0, 9.0)], None, id="two points at one time"),
        pytest.param([(0.0, 0.0), (2.0, 1.0)], 0.5, id="two points"),
        pytest.param(line(1.0, 0.0, range(4)), 1.0, id="four points"),
    ],
)
def test_too_few_points_give_no_interval(
    points: list[tuple[float, float]], slope: float | None
) -> None:
    result = theil_sen(points)
    assert result.slope == slope
    assert (result.low, result.high) == (None, None)
    if slope is None:
        assert result.note


def test_pairs_at_the_same_time_have_no_slope() -> None:
    points = [(0.0, 0.0), (0.0, 50.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]
    # The pairs of the two x = 0 points with the others: slopes 1, 1, 1 and -49, -24, -15.67;
    # the other four pairs of the rising points: 1. Median of 9 slopes: 1.
    assert theil_sen(points).slope == 1.0


def test_many_points_are_sampled_and_still_find_the_slope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trend, "MAX_PAIRS", 2_000)
    noise = [((i * 7919) % 13 - 6) / 10 for i in range(400)]  # deterministic, mean 0
    points = [(float(x), 3.0 * x + n) for x, n in zip(range(400), noise, strict=True)]
    first = theil_sen(points)
    assert first.slope == pytest.approx(3.0, abs=0.01)
    assert first.slope is not None and first.low is not None and first.high is not None
    assert first.low <= first.slope <= first.high
    assert first.high - first.low < 0.01
    assert theil_sen(points) == first  # a fixed seed: the same series, the same figures
