"""The closed model on the fast engine, as callbacks: each virtual user is a state machine
on its own connection.

The rules are `perfrun.engine.closed`'s, which runs the model on any engine's sessions:
users start at their ramp-up offsets; each stops after `requests_per_user` requests or
once `duration` has passed (a request in flight then completes and counts); think time
only between requests; failures never stop a user; a connection the server will not
reuse is reopened. Staged: user i runs while the profile's target exceeds i, and a user
leaving finishes its request first.

What differs is the mechanics: when a response completes, the connection calls its user
back (`Requester.on_response`), which records the result and writes the next request
from inside that callback, or arms a timer for the think time. No coroutine, task or
future per request; only a connect (rare) runs as a task. A success is recorded without
building a RequestResult (`ScenarioStats.ok`), and the clock read that ends a request
also decides whether the user goes on.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
import time
from collections.abc import Callable
from typing import Final, Protocol

from perfrun.engine.backoff import Backoff
from perfrun.engine.closed import STAGE_TICK, ramp_delays
from perfrun.engine.fast_dial import Dialer
from perfrun.engine.fast_wire import Connection, Prepared, Requester
from perfrun.engine.mix import Mix
from perfrun.engine.profile import users_profile
from perfrun.engine.share import Share
from perfrun.metrics.result import RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadSpec

_clock: Final = time.perf_counter
"""`time.perf_counter`, read once (see fast_wire._clock)."""


class Member(Protocol):
    """A user of a `Crowd`."""

    def halt(self) -> None:
        """Stop at once: no request, timer or outcome follows."""


class Crowd:
    """What a run's users share, and how the run waits for them: until the last user
    leaves, or a perfrun bug in a callback surfaces."""

    def __init__(self, dialer: Dialer, stats: ScenarioStats, think_time: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.dialer = dialer
        self.stats = stats
        self.think_time = think_time
        self.users: set[Member] = set()
        self.backoffs = dialer.backoffs
        self.error: Exception | None = None
        self._all_left: asyncio.Future[None] | None = None

    def join(self, user: Member) -> None:
        self.users.add(user)

    def leave(self, user: Member) -> None:
        self.users.discard(user)
        if not self.users and self._all_left is not None and not self._all_left.done():
            self._all_left.set_result(None)

    def crash(self, exc: Exception) -> None:
        """A bug in perfrun surfaces from the run, not as a failed request."""
        self.error = exc
        if self._all_left is not None and not self._all_left.done():
            self._all_left.set_exception(exc)

    def check(self) -> None:
        """Raise a bug a callback met."""
        if self.error is not None:
            raise self.error

    async def all_left(self) -> None:
        """Wait until no user is left."""
        self.check()
        if self.users:
            self._all_left = self.loop.create_future()
            await self._all_left

    def stop(self) -> None:
        """Stop every user at once (the run ends or is cancelled)."""
        for user in list(self.users):
            user.halt()
        self.users.clear()


class _Crowd(Crowd):
    """A crowd whose users draw their requests from a weighted mix."""

    def __init__(
        self, dialer: Dialer, mix: Mix[Prepared], stats: ScenarioStats, think_time: float
    ) -> None:
        super().__init__(dialer, stats, think_time)
        self.mix = mix
        self.only = mix.only
        """The one request of a mix of one (no draw needed), else None."""


class _User(Requester):
    """One virtual user: sends a request, records its result, and sends the next one (or
    arms a think-time timer) from the callback that brought the response."""

    __slots__ = (
        "backoff", "crowd", "deadline", "limit", "rng", "sent", "stats", "timeout", "timer",
        "until",
    )  # fmt: skip

    def __init__(
        self, crowd: _Crowd, rng: random.Random, count: int | None, deadline: float | None
    ) -> None:
        super().__init__(crowd.dialer)
        self.crowd = crowd
        self.stats = crowd.stats
        self.timeout = crowd.dialer.timeout
        self.rng = rng
        self.limit = count if count is not None else sys.maxsize
        """Requests this user sends at most."""
        self.deadline = deadline
        self.until = deadline if deadline is not None else math.inf
        """The deadline, or infinity without one."""
        self.sent = 0
        self.timer: asyncio.TimerHandle | None = None
        self.backoff = Backoff()
        """Its failed connects in a row: a dead target is not hammered."""
        crowd.join(self)

    def more(self, now: float) -> bool:
        """Whether this user sends another request at `now` (a perf_counter time)."""
        return self.sent < self.limit and now < self.until

    def resume_at(self, when: float) -> None:
        """Send the next request at `when` (a perf_counter time), never before: uvloop's
        timers can fire a millisecond early, so an early one is re-armed."""
        self.timer = None
        now = _clock()
        if when > now:
            self.timer = self.crowd.loop.call_later(when - now, self.resume_at, when)
        else:
            self.next(now)

    def next(self, now: float) -> None:
        if self.more(now):
            self.dispatch(self.crowd.mix.pick(self.rng))
        else:
            self.halt()
            self.crowd.leave(self)

    def on_response(self, conn: Connection) -> None:
        """The hot path, in one callback: a plain request's expected status on a
        connection that stays open is recorded, and the next request written at once,
        on the same connection; anything else takes the general path (`respond`)."""
        now = _clock()
        prepared = self.prepared
        assert prepared is not None
        if conn.status not in prepared.passes or not conn.reusable:
            self.respond(conn, now)
            return
        try:  # free in CPython 3.11 unless something raises
            self.stats.ok(prepared.endpoint, self.started, now, 0.0, conn.size, self.written,
                          conn.first_byte, conn.status)  # fmt: skip
            self.sent += 1
            crowd = self.crowd
            if crowd.think_time > 0 or self.sent >= self.limit or now >= self.until:  # more()
                self.go_on(now)
                return
            prepared = crowd.only or crowd.mix.pick(self.rng)
            self.prepared = prepared
            self.started = self.written = started = _clock()
            conn.request(
                prepared.payload,
                self,
                started + self.timeout,
                prepared.head,
                prepared.keep_headers,
                prepared.keep_body,
            )
        except Exception as exc:  # a bug in perfrun: surfaced by the run
            self.crash(exc)

    def succeeded(
        self, prepared: Prepared, now: float, status: int, size: int, first: float
    ) -> None:
        self.stats.ok(
            prepared.endpoint, self.started, now, self.queued, size, self.written, first, status
        )
        self.after(now)

    def connected(self, seconds: float) -> None:
        prepared = self.prepared
        assert prepared is not None
        self.backoff.failures = 0  # the target answers connects again
        self.stats.connected(prepared.endpoint, self.started - self.queued, seconds)

    def ended(self, result: RequestResult, now: float) -> None:
        self.stats.record(result)
        delay = self.backoff.after(result.error)
        if delay > 0:
            self.sent += 1
            self.back_off(now, delay)
        else:
            self.after(now)

    def back_off(self, now: float, delay: float) -> None:
        """Connects keep failing: wait `delay` (or the think time, if longer) before
        the next request, never past this user's end."""
        if not self.more(now):
            self.next(now)
            return
        think = self.crowd.think_time
        until = min(now + max(delay, think), self.until)
        if until - now > think:  # waiting longer than the user thinks anyway
            self.crowd.backoffs.add(until - now - think)
        self.resume_at(until)

    def after(self, now: float) -> None:
        """A request ended at `now`: count it, then `go_on`."""
        self.sent += 1
        self.go_on(now)

    def go_on(self, now: float) -> None:
        """After a request counted in `sent`: think, send the next one, or leave."""
        think = self.crowd.think_time
        if think > 0 and self.more(now):
            self.resume_at(now + think)
        else:
            self.next(now)

    def crash(self, exc: Exception) -> None:
        self.crowd.crash(exc)

    def halt(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.close()


class _StagedUser(_User):
    """User `index` of a staged load: runs while the profile's target exceeds its index."""

    __slots__ = ("index", "target")

    def __init__(
        self, crowd: _Crowd, rng: random.Random, index: int, target: Callable[[], int],
        deadline: float,
    ) -> None:  # fmt: skip
        super().__init__(crowd, rng, None, deadline)
        self.index = index
        self.target = target

    def more(self, now: float) -> bool:
        assert self.deadline is not None
        return now < self.deadline and self.index < self.target()

    def on_response(self, conn: Connection) -> None:
        if self.index >= self.target():
            self.until = -math.inf  # leaves once this response is recorded (see more())
        super().on_response(conn)


async def run_closed(
    load: LoadSpec,
    mix: Mix[Prepared],
    dialer: Dialer,
    stats: ScenarioStats,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
) -> None:
    """Run the closed model from `start` (a perf_counter time) to completion; every
    result is recorded in `stats`. With a `share`, only this worker's users run."""
    deadline = start + load.duration if load.duration is not None else None
    rng = random.Random(seed)
    delays = ramp_delays(load.users, load.ramp_up)
    crowd = _Crowd(dialer, mix, stats, load.think_time)
    try:
        for index in share.indices(load.users):
            user = _User(crowd, random.Random(rng.random()), load.requests_per_user, deadline)
            user.resume_at(start + delays[index])
        await crowd.all_left()
    finally:
        crowd.stop()


async def run_closed_stages(
    load: LoadSpec,
    mix: Mix[Prepared],
    dialer: Dialer,
    stats: ScenarioStats,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
) -> None:
    """Closed model with a staged number of users: user i runs while the profile's
    target exceeds i; a user leaving finishes its current request first. With a
    `share`, only this worker's users run."""
    profile = users_profile(load)
    deadline = start + profile.duration
    rng = random.Random(seed)

    def target() -> int:
        return int(profile.value_at(_clock() - start) + 0.5)

    crowd = _Crowd(dialer, mix, stats, load.think_time)
    active: dict[int, _User] = {}
    try:
        while _clock() < deadline:
            for index in share.indices(target()):
                user = active.get(index)
                if user is None or user not in crowd.users:
                    user = _StagedUser(crowd, random.Random(rng.random()), index, target, deadline)
                    active[index] = user
                    user.next(_clock())
            crowd.check()
            await asyncio.sleep(STAGE_TICK)
        await crowd.all_left()
    finally:
        crowd.stop()
