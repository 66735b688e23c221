"""The closed model: N virtual users, each sending its next request when the last ends.

Users start spread linearly over `ramp_up`. Each stops after `requests_per_user`
requests, or once `duration` has passed since the load started (a request in flight
then still completes and counts). Failures never stop a user: they are results; a
user whose connects keep failing waits before its next one (perfrun.engine.backoff).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from perfrun.engine.backoff import Backoff, Backoffs
from perfrun.engine.base import Engine, Sink
from perfrun.engine.mix import RequestMix
from perfrun.engine.profile import users_profile
from perfrun.engine.share import Share
from perfrun.engine.timing import sleep_until
from perfrun.scenario.model import LoadSpec, RequestSpec


def ramp_delays(users: int, ramp_up: float) -> list[float]:
    """Start offset of each user: linear over the ramp, the first one at once."""
    if users <= 1 or ramp_up <= 0:
        return [0.0] * users
    step = ramp_up / users
    return [i * step for i in range(users)]


async def run_closed(
    load: LoadSpec,
    requests: tuple[RequestSpec, ...],
    engine: Engine,
    sink: Sink,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
    backoffs: Backoffs | None = None,
) -> None:
    """Run the closed model from `start` (a perf_counter time) to completion; every
    result goes to `sink`. With a `share`, only this worker's users run. The users'
    waits for a failing target are counted into `backoffs`."""
    started = start
    deadline = started + load.duration if load.duration is not None else None
    mix = RequestMix(requests)
    rng = random.Random(seed)
    delays = ramp_delays(load.users, load.ramp_up)
    users = [
        _user(
            engine,
            mix,
            random.Random(rng.random()),
            sink,
            start_at=started + delays[index],
            count=load.requests_per_user,
            deadline=deadline,
            think_time=load.think_time,
            backoffs=backoffs if backoffs is not None else Backoffs(),
        )
        for index in share.indices(load.users)
    ]
    await asyncio.gather(*users)


async def _user(
    engine: Engine,
    mix: RequestMix,
    rng: random.Random,
    sink: Sink,
    *,
    start_at: float,
    count: int | None,
    deadline: float | None,
    think_time: float,
    backoffs: Backoffs,
) -> None:
    await sleep_until(start_at)
    session = engine.session()
    backoff = Backoff()
    try:
        sent = 0
        while True:
            if count is not None and sent >= count:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            result = await session.send(mix.pick(rng))
            sink(result)
            sent += 1
            more = (count is None or sent < count) and (
                deadline is None or time.perf_counter() < deadline
            )
            if more:
                await pause(think_time, backoff.after(result.error), deadline, backoffs)
    finally:
        await session.aclose()


STAGE_TICK = 0.05
"""Seconds between checks of the staged user count."""


async def run_closed_stages(
    load: LoadSpec,
    requests: tuple[RequestSpec, ...],
    engine: Engine,
    sink: Sink,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
    backoffs: Backoffs | None = None,
) -> None:
    """Closed model with a staged number of users: user i runs while the profile's
    target exceeds i; a user leaving finishes its current request first. With a
    `share`, only this worker's users run; their waits for a failing target are
    counted into `backoffs`."""
    profile = users_profile(load)
    started = start
    deadline = started + profile.duration
    mix = RequestMix(requests)
    rng = random.Random(seed)
    waits = backoffs if backoffs is not None else Backoffs()

    def target() -> int:
        return int(profile.value_at(time.perf_counter() - started) + 0.5)

    active: dict[int, asyncio.Task[None]] = {}
    try:
        while time.perf_counter() < deadline:
            for index in share.indices(target()):
                task = active.get(index)
                if task is None or task.done():
                    active[index] = asyncio.create_task(
                        _staged_user(
                            engine, mix, random.Random(rng.random()), sink,
                            index=index, target=target, deadline=deadline,
                            think_time=load.think_time, backoffs=waits,
                        )
                    )  # fmt: skip
            await asyncio.sleep(STAGE_TICK)
        await asyncio.gather(*active.values())
    finally:
        for task in active.values():
            task.cancel()
        await asyncio.gather(*active.values(), return_exceptions=True)


async def _staged_user(
    engine: Engine,
    mix: RequestMix,
    rng: random.Random,
    sink: Sink,
    *,
    index: int,
    target: Callable[[], int],
    deadline: float,
    think_time: float,
    backoffs: Backoffs,
) -> None:
    session = engine.session()
    backoff = Backoff()
    try:
        while time.perf_counter() < deadline and index < target():
            result = await session.send(mix.pick(rng))
            sink(result)
            await pause(think_time, backoff.after(result.error), deadline, backoffs)
    finally:
        await session.aclose()


async def pause(think: float, delay: float, deadline: float | None, backoffs: Backoffs) -> None:
    """Between two requests of a user: its think time, or the back-off `delay` when
    longer (counted into `backoffs`; never past the `deadline`, nor waking before its
    end: a request sent a millisecond early would pass the deadline's check)."""
    if delay <= think:
        if think > 0:
            await asyncio.sleep(think)
        return
    now = time.perf_counter()
    until = now + delay if deadline is None else min(now + delay, max(deadline, now))
    if until - now > think:
        backoffs.add(until - now - think)
    await sleep_until(until)
