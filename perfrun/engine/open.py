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
import math
import random
import time

from perfrun.engine.base import Engine, Session, Sink
from perfrun.engine.mix import RequestMix
from perfrun.engine.pacer import Pacer, Positions
from perfrun.engine.profile import rate_profile
from perfrun.engine.share import Share
from perfrun.engine.timing import sleep_until
from perfrun.metrics.result import RequestResult
from perfrun.metrics.schedule import ScheduleCounts
from perfrun.scenario.model import LoadSpec, RequestSpec

LATE_AFTER = 0.010
"""A request sent more than this long after its intended time counts as late."""


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
    cookies: bool = False,
    max_redirects: int = 0,
) -> None:
    """Send on schedule until the rate profile ends, then wait for requests in flight.
    With a `share`, only this worker's part of the schedule (and of max_in_flight).
    Each request follows up to `max_redirects` redirects, with `cookies` kept along
    its chain only (see `Session.exchange`'s `intended`)."""
    pacer = Pacer(rate_profile(load))
    master = random.Random(seed)
    # Separate streams: the request picked must not decide the gap after it.
    positions = Positions(load.arrival, master.getrandbits(64), share)
    mix = RequestMix(requests)
    rng = random.Random(master.getrandbits(64))
    slots = asyncio.Semaphore(share.cap(load.max_in_flight))
    pool = _SessionPool(engine)
    in_flight: set[asyncio.Task[None]] = set()

    async def one(session: Session, spec: RequestSpec, intended: float, capped: bool) -> None:
        try:
            result = await _request(session, spec, intended, cookies, max_redirects)
            if result.queued > LATE_AFTER:
                counts.late += 1
                counts.late_own += not capped
            sink(result)
        finally:
            pool.give_back(session)
            slots.release()

    end = start + pacer.profile.duration
    waited_until = -math.inf
    """When the executor last got a slot it had waited for."""
    try:
        while True:
            due = pacer.due(positions.current)
            if due is None:
                break
            intended = start + due
            if intended > time.perf_counter():
                await sleep_until(intended)
            elif time.perf_counter() >= end:
                # Behind schedule past its end: what is still due is dropped, not sent late
                # for ever, so the run ends when its schedule does.
                rest = remaining(pacer, positions)
                counts.due += 1 + rest
                counts.dropped += 1 + rest
                break
            counts.due += 1
            # Capped: it waits for a slot, or it came due while an earlier one waited (a
            # slot freed since, but the cap is what made it late, not perfrun).
            capped = slots.locked() or intended < waited_until
            counts.capped += capped
            if not await _acquire_before(slots, end):
                rest = remaining(pacer, positions)
                counts.due += rest
                counts.dropped += 1 + rest
                break
            if capped:
                waited_until = time.perf_counter()
            positions.advance()
            counts.sent += 1
            task = asyncio.create_task(one(pool.take(), mix.pick(rng), intended, capped))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        await pool.aclose()


async def _request(
    session: Session, spec: RequestSpec, intended: float, cookies: bool, max_redirects: int
) -> RequestResult:
    """One scheduled request, with its redirects when it follows them."""
    if not max_redirects:
        return await session.send(spec, intended)
    exchange = await session.exchange(spec, None, cookies, max_redirects, intended=intended)
    return exchange.result


class _SessionPool:
    """Sessions (connections) for requests in flight: an idle one when there is one, else
    a new one, so the pool grows to the most requests in flight at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.idle: list[Session] = []
        self.opened: list[Session] = []
        """Every session opened, to close them all: a task cancelled before its first
        step never gives its session back."""

    def take(self) -> Session:
        if self.idle:
            return self.idle.pop()
        self.opened.append(self.engine.session())
        return self.opened[-1]

    def give_back(self, session: Session) -> None:
        self.idle.append(session)

    async def aclose(self) -> None:
        await asyncio.gather(*(s.aclose() for s in self.opened), return_exceptions=True)


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


def remaining(pacer: Pacer, positions: Positions) -> int:
    """How many requests after the current one the schedule still has."""
    count = 0
    positions.advance()
    while pacer.due(positions.current) is not None:
        count += 1
        positions.advance()
    return count
