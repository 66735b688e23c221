"""A robust trend: the Theil–Sen slope of a series and its distribution-free confidence
interval. Pure: no I/O, no clocks, tested with tables.

Theil–Sen, not least squares: the slope is the median of the slopes between every pair
of points, so a few outliers (a garbage collection, an RSS spike while a big response is
built) move it little (breakdown point 29 %), and its confidence interval (Sen 1968) needs
no assumption about the noise: it takes two order statistics of the pairwise slopes,
at ranks set by the variance of Kendall's S, corrected for ties (RSS is counted in pages,
so a flat process repeats values), as scipy.stats.theilslopes computes it.

Cost: all n(n-1)/2 pairs while that is at most MAX_PAIRS (n up to ~316), else MAX_PAIRS
pairs drawn at random with a fixed seed (the same series gives the same answer), their
median and the interval's order statistics read at the same fractions of the sample.
That bounds the work (a soak's 4096 monitor samples would be 8.4 million pairs) while
keeping the estimator's robustness; the interval of a sample is a close estimate of the
exact one at these sizes.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

from perfrun.report.model import Trend

MAX_PAIRS = 50_000
Z_95 = 1.959963984540054
"""The standard normal's 97.5th percentile: a two-sided 95 % interval."""


def theil_sen(points: Sequence[tuple[float, float]], note: str = "") -> Trend:
    """The Theil–Sen slope of `points` ((x, y) pairs) with its 95 % confidence interval.

    Pairs with equal x have no slope and are left out. The slope is None with fewer than
    two distinct x; each bound of the interval is None when there are too few points for
    a 95 % interval (fewer than ~6 points)."""
    n = len(points)
    total = n * (n - 1) // 2
    slopes = _slopes(points, total)
    if not slopes:
        return Trend(None, None, None, n, note or "fewer than 2 points at distinct times")
    slopes.sort()
    m = len(slopes)
    mid = m // 2
    median = slopes[mid] if m % 2 else (slopes[mid - 1] + slopes[mid]) / 2
    # Sen (1968): the interval is [d(M1), d(M2 + 1)] of the N ordered slopes, with
    # M1 = (N - C) / 2, M2 = (N + C) / 2 and C = z * sqrt(Var S).
    # Ranks rounded as scipy.stats.theilslopes rounds them (the same figures).
    pairs = _distinct_x_pairs(points, total)
    spread = Z_95 * math.sqrt(_kendall_variance(n, points))
    lower_rank = round((pairs - spread) / 2)
    upper_rank = round((pairs + spread) / 2) + 1
    low = _at_rank(slopes, lower_rank, pairs) if lower_rank >= 1 else None
    high = _at_rank(slopes, upper_rank, pairs) if upper_rank <= pairs else None
    return Trend(median, low, high, n, note)


def _slopes(points: Sequence[tuple[float, float]], total: int) -> list[float]:
    n = len(points)
    if total <= MAX_PAIRS:
        return [
            (points[j][1] - points[i][1]) / (points[j][0] - points[i][0])
            for i in range(n)
            for j in range(i + 1, n)
            if points[j][0] != points[i][0]
        ]
    draw = random.Random(0)  # fixed: the same series always gives the same figures
    slopes: list[float] = []
    while len(slopes) < MAX_PAIRS:
        i, j = draw.randrange(n), draw.randrange(n)
        (xi, yi), (xj, yj) = points[i], points[j]
        if xi != xj:
            slopes.append((yj - yi) / (xj - xi))
    return slopes


def _distinct_x_pairs(points: Sequence[tuple[float, float]], total: int) -> int:
    """How many pairs have a slope: all pairs less those within a group of equal x."""
    ties = Counter(x for x, _ in points)
    return total - sum(t * (t - 1) // 2 for t in ties.values())


def _kendall_variance(n: int, points: Sequence[tuple[float, float]]) -> float:
    """Var(S) of Kendall's S under no trend, corrected for groups of tied x and of tied y."""
    ties = [*Counter(x for x, _ in points).values(), *Counter(y for _, y in points).values()]
    return max(n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties), 0) / 18


def _at_rank(slopes: list[float], rank: int, pairs: int) -> float:
    """The `rank`-th (1-based) of `pairs` ordered slopes, read from the sorted `slopes`
    (all of them, or a sample: then at the same fraction)."""
    if len(slopes) == pairs:
        return slopes[rank - 1]
    index = round((rank - 0.5) / pairs * len(slopes) - 0.5)
    return slopes[min(max(index, 0), len(slopes) - 1)]
