"""A load profile: a piecewise-linear target (users or requests/s) over time. Pure.

Built from stages with k6 semantics: each stage ramps linearly from the previous
target to its own over its duration; a constant load is one flat segment.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from perfrun.scenario.model import LoadSpec, Stage


@dataclass(frozen=True)
class Profile:
    """Points `(t, value)` with strictly increasing t, starting at t = 0; linear between
    points. `cumulative[i]` is the integral of the value from 0 to `times[i]`."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def from_stages(cls, start: float, stages: Sequence[Stage]) -> Profile:
        times, values = [0.0], [float(start)]
        for stage in stages:
            times.append(times[-1] + stage.duration)
            values.append(float(stage.target))
        cumulative = [0.0]
        for i in range(1, len(times)):
            span = times[i] - times[i - 1]
            cumulative.append(cumulative[-1] + span * (values[i - 1] + values[i]) / 2)
        return cls(tuple(times), tuple(values), tuple(cumulative))

    @classmethod
    def constant(cls, value: float, duration: float) -> Profile:
        return cls.from_stages(value, [Stage(duration, value)])

    @property
    def duration(self) -> float:
        return self.times[-1]

    @property
    def total(self) -> float:
        """The integral over the whole profile: for a rate, the requests it asks for."""
        return self.cumulative[-1]

    def value_at(self, t: float) -> float:
        """The target at time t (0 outside the profile)."""
        if t < 0 or t > self.duration:
            return 0.0
        i = min(bisect_right(self.times, t), len(self.times) - 1)
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def integral(self, t: float) -> float:
        """The integral from 0 to t: for a rate, how many requests are due by t."""
        if t <= 0:
            return 0.0
        if t >= self.duration:
            return self.total
        i = bisect_right(self.times, t)
        t0 = self.times[i - 1]
        v0 = self.values[i - 1]
        v = self.value_at(t)
        return self.cumulative[i - 1] + (t - t0) * (v0 + v) / 2

    def time_of(self, amount: float) -> float | None:
        """The first t with integral(t) >= amount; None when the profile never gets there
        (for a rate: the intended send time of request number `amount`, 0-based)."""
        if amount <= 0:
            return 0.0
        if amount >= self.total:
            return None
        i = bisect_right(self.cumulative, amount)
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        remaining = amount - self.cumulative[i - 1]
        if remaining <= 0:
            return t0
        slope = (v1 - v0) / (t1 - t0)
        if abs(slope) < 1e-12:
            return t0 + remaining / v0
        # remaining = v0·x + slope·x²/2, solved for the root x in [0, t1 - t0]
        disc = max(v0 * v0 + 2 * slope * remaining, 0.0)
        x = (math.sqrt(disc) - v0) / slope
        return min(t0 + max(x, 0.0), t1)


def rate_profile(load: LoadSpec) -> Profile:
    """The requests/s profile of an open-model load."""
    if load.stages:
        return Profile.from_stages(load.start, load.stages)
    if load.rate is None or load.duration is None:
        raise ValueError("an open-model load needs a rate and a duration, or stages")
    return Profile.constant(load.rate, load.duration)


def users_profile(load: LoadSpec) -> Profile:
    """The virtual-users profile of a staged closed-model load."""
    return Profile.from_stages(load.start, load.stages)
