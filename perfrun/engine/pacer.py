"""Pacing for the open model: when is the next request due? Pure, like vegeta's pacers:
no clock and no sleep inside, so it is tested with tables.

Request number n (0-based) is due when the rate profile's integral reaches n: at a
constant 100/s that is n × 10 ms. A Poisson arrival process is the same schedule on a
randomised count axis: the executor advances `position` by Exp(1) steps instead of 1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from perfrun.engine.profile import Profile
from perfrun.engine.share import Share
from perfrun.scenario.model import Arrival


@dataclass(frozen=True)
class Pacer:
    profile: Profile

    def due(self, position: float) -> float | None:
        """Seconds from the start at which the request at `position` is due; None when
        the profile ends first (nothing more to send)."""
        return self.profile.time_of(position)

    def pace(self, elapsed: float, position: float) -> tuple[float, bool]:
        """(wait, stop): how long until the request at `position` is due (0 when it is
        already due or late), and whether the schedule is over."""
        due = self.due(position)
        if due is None:
            return 0.0, True
        return max(due - elapsed, 0.0), False

    def expected(self) -> int:
        """How many requests the whole schedule asks for (uniform arrivals)."""
        return int(self.profile.total - 1e-9) + 1 if self.profile.total > 0 else 0


class Positions:
    """The count axis the pacer is read at: 0, 1, 2, … for uniform arrivals; a running
    sum of Exp(1) steps for Poisson arrivals (same mean rate, random gaps).

    Worker k of n reads positions k, k + n, k + 2n, … (uniform), or a Poisson process
    of 1/n the rate (the n of them add up to a Poisson process at the full rate)."""

    def __init__(self, arrival: Arrival, seed: int | None = None, share: Share = Share.WHOLE):
        self._poisson = arrival == Arrival.POISSON
        self._rng = random.Random(seed)
        self._step = float(share.count)
        self._position = 0.0 if self._poisson else float(share.index)

    @property
    def current(self) -> float:
        return self._position

    def advance(self) -> None:
        self._position += self._step * (self._rng.expovariate(1.0) if self._poisson else 1.0)
