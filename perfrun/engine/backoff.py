"""Backing off from a target whose connects keep failing: a dead target is not hammered.

A refused connect on loopback takes ~50 µs, so a closed-model user whose target died
turns into a loop of refused connects (18,000 a second measured), burning perfrun's CPU
and the network for figures that say only "refused". Each user (a connection slot)
keeps its own `Backoff`: once BACKOFF_AFTER of its connects in a row have failed, with
no response in between, it waits before its next request, FIRST_DELAY doubling up to
MAX_DELAY (50 ms, 100 ms, … 1 s), and any response, whatever its status, ends the
streak. A count rather than a time: at 50 µs a refused connect, even 100 ms of
hammering is 2,000 of them. A live target seldom refuses three connects in a row to
one user; when it does, a 50 ms pause is what any client would do.

The open model keeps its schedule: each scheduled request makes one attempt, so a dead
target costs `rate` connects a second, not a spin, and every request stays counted.
`Backoffs` counts the waits, mergeable across processes, for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from perfrun.metrics.result import ErrorKind

BACKOFF_AFTER = 3
"""Connects failed in a row (no response in between) before a user waits."""
FIRST_DELAY = 0.05
MAX_DELAY = 1.0


def backoff_delay(failures: int) -> float:
    """Seconds to wait before the next connect after `failures` failed in a row."""
    if failures < BACKOFF_AFTER:
        return 0.0
    return min(FIRST_DELAY * 2.0 ** min(failures - BACKOFF_AFTER, 32), MAX_DELAY)


class Backoff:
    """One user's streak of failed connects, and the wait it calls for."""

    __slots__ = ("failures",)

    def __init__(self) -> None:
        self.failures = 0

    def after(self, kind: ErrorKind | None) -> float:
        """A request ended (`kind`: its error, None for a success): the seconds to wait
        before the next one (0: go on)."""
        if kind is None or not kind.is_connect_failure:
            self.failures = 0
            return 0.0
        self.failures += 1
        return backoff_delay(self.failures)


@dataclass
class Backoffs:
    """How often, and how long in all, users waited for a failing target; mergeable by
    addition (workers' parts)."""

    waits: int = 0
    seconds: float = 0.0

    def add(self, delay: float) -> None:
        self.waits += 1
        self.seconds += delay

    def merge(self, other: Backoffs) -> None:
        self.waits += other.waits
        self.seconds += other.seconds

    def __bool__(self) -> bool:
        return self.waits > 0


@runtime_checkable
class BackoffGauge(Protocol):
    """A load runner that backs off from a failing target (the closed model), and says
    how much."""

    def backoffs(self) -> Backoffs:
        """The waits so far."""
        ...
