"""Weighted choice of the next request from a scenario's request mix."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from perfrun.scenario.model import RequestSpec


class RequestMix:
    """Picks requests with probability proportional to their weight."""

    def __init__(self, requests: Sequence[RequestSpec]) -> None:
        if not requests:
            raise ValueError("a request mix needs at least one request")
        self._requests = list(requests)
        self._cum_weights = list(itertools.accumulate(r.weight for r in requests))

    def pick(self, rng: random.Random) -> RequestSpec:
        if len(self._requests) == 1:
            return self._requests[0]
        return rng.choices(self._requests, cum_weights=self._cum_weights)[0]
