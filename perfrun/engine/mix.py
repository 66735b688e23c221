"""Weighted choice of the next request from a scenario's request mix."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from perfrun.scenario.model import RequestSpec

T = TypeVar("T")


class Mix(Generic[T]):
    """Picks items with probability proportional to their weights."""

    def __init__(self, items: Sequence[T], weights: Iterable[float]) -> None:
        if not items:
            raise ValueError("a request mix needs at least one request")
        self._items = list(items)
        self._cum_weights = list(itertools.accumulate(weights))
        self.only: T | None = self._items[0] if len(self._items) == 1 else None
        """The item of a mix of one, which `pick` always returns; else None."""

    def pick(self, rng: random.Random) -> T:
        if self.only is not None:
            return self.only
        return rng.choices(self._items, cum_weights=self._cum_weights)[0]


class RequestMix(Mix[RequestSpec]):
    """Picks requests with probability proportional to their weight."""

    def __init__(self, requests: Sequence[RequestSpec]) -> None:
        super().__init__(requests, (r.weight for r in requests))
