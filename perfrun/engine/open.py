"""The open model: requests sent at scheduled times, whatever the responses do.

Each request has an intended send time from the pacer. Its latency is measured from
that time, so a server that stalls (or a generator that falls behind) shows up in the
numbers instead of quietly lowering the load, as it would in a closed loop
("coordinated omission"). Connections come from a pool that grows with the number of
requests in flight, up to `max_in_flight`; at the cap, due requests wait for a free
slot and go out late. Whatever is still waiting when the schedule ends is dropped and
counted, never silently skipped.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from perfrun.engine.base import Engine, Session
from perfrun.engine.closed import Sink
from perfrun.engine.mix import RequestMix
from perfrun.engine.pacer import Pacer, Positions
from perfrun.engine.profile import rate_profile
from perfrun.engine.share import Share
from perfrun.scenario.model import LoadSpec, RequestSpec

LATE_AFTER = 0.010
"""A request sent more than this long after its intended time counts as late."""


@dataclass
class ScheduleCounts:
    """What the schedule asked for and what was done about it; mergeable by addition."""

    due: int = 0
    """Requests whose intended time came within the schedule."""
    sent: int = 0
    late: int = 0
    """Sent more than LATE_AFTER after the intended time."""
    capped: int = 0
    """Had to wait for a free slot (max_in_flight reached): late because of the cap and
    the target's latency, not because perfrun ran short of CPU."""
    late_own: int = 0
    """Late without having waited for a slot: perfrun itself fell behind."""
    dropped: int = 0
    """Due, but never sent before the schedule ended (waiting for a slot, or perfrun
    too far behind)."""

    def merge(self, other: ScheduleCounts) -> None:
        self.due += other.due
        self.sent += other.sent
        self.late += other.late
        self.capped += other.capped
        self.late_own += other.late_own
        self.dropped += other.dropped


async def run_open(
    load: LoadSpec,
    requests: tuple[RequestSpec, ...],
    engine: Engine,
    sink: Sink,
    counts: ScheduleCounts,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
) -> None:
    """Send on schedule until the rate profile ends, then wait for requests in flight.
    With a `share`, only this worker's part of the schedule (and of max_in_flight)."""
    pacer = Pacer(rate_profile(load))
    positions = Positions(load.arrival, seed, share)
    mix = RequestMix(requests)
    rng = random.Random(seed)
    slots = asyncio.Semaphore(share.cap(load.max_in_flight))
    idle: list[Session] = []
    in_flight: set[asyncio.Task[None]] = set()

    async def one(session: Session, spec: RequestSpec, intended: float, capped: bool) -> None:
        try:
            result = await session.send(spec, intended)
            if result.queued > LATE_AFTER:
                counts.late += 1
                counts.late_own += not capped
            sink(result)
        finally:
            idle.append(session)
            slots.release()

    end = start + pacer.profile.duration
    try:
        while True:
            wait, stop = pacer.pace(time.perf_counter() - start, positions.current)
            if stop:
                break
            due = pacer.due(positions.current)
            assert due is not None  # pace() said the schedule goes on
            intended = start + due
            if wait > 0:
                await _sleep_until(intended)
            elif time.perf_counter() >= end:
                # Behind schedule past its end: what is still due is dropped, not sent late
                # for ever, so the run ends when its schedule does.
                rest = _remaining(pacer, positions)
                counts.due += 1 + rest
                counts.dropped += 1 + rest
                break
            counts.due += 1
            capped = slots.locked()
            counts.capped += capped
            if not await _acquire_before(slots, end):
                rest = _remaining(pacer, positions)
                counts.due += rest
                counts.dropped += 1 + rest
                break
            positions.advance()
            counts.sent += 1
            session = idle.pop() if idle else engine.session()
            task = asyncio.create_task(one(session, mix.pick(rng), intended, capped))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
    finally:
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        await asyncio.gather(*(s.aclose() for s in idle), return_exceptions=True)


async def _sleep_until(when: float) -> None:
    """Sleep until `when` (a perf_counter time), never returning early: uvloop's timers
    have millisecond resolution against a clock cached per loop iteration, so one sleep
    can wake up to ~1 ms early, and a request sent early would shorten its own latency."""
    while (remaining := when - time.perf_counter()) > 0:
        await asyncio.sleep(remaining)


async def _acquire_before(slots: asyncio.Semaphore, deadline: float) -> bool:
    """Take a slot, waiting at most until `deadline` (a perf_counter time)."""
    if not slots.locked():
        await slots.acquire()
        return True
    try:
        async with asyncio.timeout(max(deadline - time.perf_counter(), 0.0)):
            await slots.acquire()
    except TimeoutError:
        return False
    return True


def _remaining(pacer: Pacer, positions: Positions) -> int:
    """How many requests after the current one the schedule still has."""
    count = 0
    positions.advance()
    while pacer.due(positions.current) is not None:
        count += 1
        positions.advance()
    return count
