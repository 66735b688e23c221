"""The open model on the fast engine, as callbacks: one pacing timer sends every request
that is due on an idle connection, opening one while fewer than `max_in_flight` are busy.

The rules and counts are `perfrun.engine.open`'s, which runs the model on any engine's
sessions: latency from the intended time; never sent early (uvloop's timers can fire a
millisecond early: the timer re-arms); at the cap a due request waits for a slot and
counts as capped, and so does one that came due while an earlier one waited; what is
still due when the schedule ends is dropped and counted. No task or future per request:
a response's callback records it, frees its connection, and sends a request that waited.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from perfrun.engine.cookies import Jar
from perfrun.engine.fast_dial import Dialer
from perfrun.engine.fast_flow import REDIRECTS, StepPlan, next_hop
from perfrun.engine.fast_wire import Connection, Prepared, Requester
from perfrun.engine.mix import Mix
from perfrun.engine.open import LATE_AFTER, remaining
from perfrun.engine.pacer import Pacer, Positions
from perfrun.engine.profile import rate_profile
from perfrun.engine.share import Share
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadSpec

_clock: Final = time.perf_counter
"""`time.perf_counter`, read once (see fast_wire._clock)."""

TIMER_RESOLUTION: Final = 0.002
"""How late the pacing timer may wake (its whole-millisecond rounding and the loop's
millisecond clock): a request due before the end that goes out within this much after
it was held back by the timer, not by perfrun falling behind, and is sent, not dropped."""

MAX_CONNECTING = 16
"""Connections the open model opens at once. A connect costs ~5 requests' CPU: at a high
rate with no connection idle (at the start, after a stall) a connect per due request
would slow the loop, make more due, and open hundreds; instead, past this many, a due
request waits for the first connection to come free (its wait counts in its latency)."""


class _Slot(Requester):
    """One pooled connection: sends what the schedule dispatches to it, following its
    redirects (a request and its redirects are one result, as in a flow), then is idle.
    A request on its own has no user: its cookies live only for its redirect chain (as
    k6 clears a VU's jar at each iteration), e.g. a login's session cookie set on a 303
    goes with the request the 303 leads to."""

    __slots__ = (
        "capped", "chain_queued", "chain_started", "first", "hops", "jar", "payload", "plan",
        "schedule", "target",
    )  # fmt: skip

    def __init__(self, schedule: _Schedule) -> None:
        super().__init__(schedule.dialer)
        self.schedule = schedule
        self.capped = False
        """Its request waited for a slot (or came due while one waited)."""
        self.hops = 0
        """Redirects followed by the request under way."""
        self.first: Prepared | None = None
        """The request whose redirects are under way: its endpoint and how it is judged."""
        self.chain_started = self.chain_queued = 0.0
        self.plan: StepPlan | None = None
        """What the current hop sends, to `target` (a request target), as `payload`."""
        self.target = ""
        self.payload = b""
        self.jar: Jar | None = None

    def succeeded(
        self, prepared: Prepared, now: float, status: int, size: int, first: float
    ) -> None:
        schedule = self.schedule
        schedule.stats.ok(
            prepared.endpoint, self.started, now, self.queued, size, self.written, first, status
        )
        schedule.finished(self)

    def connected(self, seconds: float) -> None:
        if self.hops:
            return  # a chain's phases are not timed
        prepared = self.prepared
        assert prepared is not None
        self.schedule.stats.connected(prepared.endpoint, self.started - self.queued, seconds)

    def ended(self, result: RequestResult, now: float) -> None:
        if self.hops:  # a hop failed (connect, timeout, reset): the chain's result
            result = result._replace(
                started=self.chain_started, latency=now - self.chain_started,
                queued=self.chain_queued, redirects=self.hops,
            )  # fmt: skip
            self.end_chain()
        self.schedule.stats.record(result)
        self.schedule.finished(self)

    def crash(self, exc: Exception) -> None:
        self.schedule.crash(exc)

    def connect_started(self) -> None:
        self.schedule.connecting += 1

    def connect_ended(self) -> None:
        self.schedule.connecting -= 1

    # --- redirects

    def on_response(self, conn: Connection) -> None:
        now = _clock()
        schedule = self.schedule
        prepared = self.prepared
        assert prepared is not None
        status = conn.status
        if (
            status in prepared.passes
            and conn.reusable
            and not self.hops
            and not prepared.close
            and not (schedule.max_redirects and status in REDIRECTS)
        ):  # the hot path, as `respond` then `succeeded` would take it
            try:  # free in CPython 3.11 unless something raises
                schedule.stats.ok(prepared.endpoint, self.started, now, self.queued, conn.size,
                                  self.written, conn.first_byte, status)  # fmt: skip
                schedule.finished(self)
            except Exception as exc:  # a bug in perfrun: surfaced by the run
                self.crash(exc)
            return
        if schedule.max_redirects:
            try:
                if conn.status in REDIRECTS:
                    location = conn.response.headers.get("location")
                    if location is not None:
                        self.follow(conn, location, now)
                        return
                if self.hops:
                    self.chain_ended(conn, now)
                    return
            except Exception as exc:  # a bug in perfrun: surfaced by the run
                self.crash(exc)
                return
        self.respond(conn, now)

    def follow(self, conn: Connection, location: str, now: float) -> None:
        """Follow a redirect to `location`, or end the request when it goes past
        `max_redirects` or to another origin (as `perfrun.engine.fast_flow` does)."""
        schedule = self.schedule
        prepared = self.prepared
        assert prepared is not None
        if not conn.reusable or prepared.close:
            conn.close()
        if not self.hops:
            self.first = prepared
            self.chain_started, self.chain_queued = self.started, self.queued
            self.plan = schedule.plan(prepared)
            self.target = self.plan.target or ""
        plan = self.plan
        assert plan is not None
        set_cookies = conn.response.set_cookies
        if set_cookies and schedule.cookies:
            if self.jar is None:
                self.jar = Jar(schedule.origin)
            self.jar.extract(self.target, set_cookies)
        hop = next_hop(schedule.origin, self.target, location, plan, conn.status, self.hops,
                       schedule.max_redirects)  # fmt: skip
        if isinstance(hop, str):
            self.chain_failed(conn, now, hop)
            return
        self.plan, self.target = hop.plan, hop.target
        self.hops += 1
        cookie = self.jar.header(hop.target) if self.jar is not None else None
        try:
            self.payload = hop.plan.payload(hop.target, (), hop.plan.body, cookie)
        except UnicodeError as exc:
            self.chain_failed(conn, now, f"redirect to {hop.url}: not sent: {exc}")
            return
        self.dispatch(hop.plan.prepared)

    def write(self) -> None:
        if not self.hops:
            super().write()
            return
        conn, plan = self.conn, self.plan
        assert conn is not None and plan is not None
        # The timeout covers the whole chain, as in httpx.
        conn.request(self.payload, self, self.chain_started + self.dialer.timeout, plan.head,
                     plan.keep_headers, plan.keep_body)  # fmt: skip

    def chain_ended(self, conn: Connection, now: float) -> None:
        """The chain's last response: judged as the first request's would be."""
        if not conn.reusable or (self.plan is not None and self.plan.close):
            conn.close()
        first, response = self.first, conn.response
        assert first is not None
        result = first.judge.judge(
            self.chain_started, now - self.chain_started, self.chain_queued, conn.status,
            conn.size, response.headers, response.content,
        )._replace(redirects=self.hops)  # fmt: skip
        self.end_chain()
        self.ended(result, now)

    def chain_failed(self, conn: Connection, now: float, detail: str) -> None:
        first = self.first
        assert first is not None
        result = RequestResult(
            first.name, self.chain_started, now - self.chain_started, conn.status, conn.size,
            ErrorKind.OTHER, detail, self.chain_queued, redirects=self.hops,
        )  # fmt: skip
        self.end_chain()
        self.ended(result, now)

    def end_chain(self) -> None:
        """The request's chain is over: its cookies go, its lateness is the first hop's."""
        self.hops = 0
        self.queued = self.chain_queued
        self.jar = None


class _Schedule:
    """The pacing state machine: what is due next, the idle and busy connections, and
    the request waiting for a slot at the cap."""

    def __init__(
        self, load: LoadSpec, mix: Mix[Prepared], dialer: Dialer, stats: ScenarioStats,
        start: float, share: Share, seed: int | None, origin: str = "", host_header: str = "",
        prefix: str = "", max_redirects: int = 0, cookies: bool = False,
    ) -> None:  # fmt: skip
        self.loop = asyncio.get_running_loop()
        self.pacer = Pacer(rate_profile(load))
        master = random.Random(seed)
        # Separate streams: the request picked must not decide the gap after it.
        self.positions = Positions(load.arrival, master.getrandbits(64), share)
        self.rng = random.Random(master.getrandbits(64))
        self.mix = mix
        self.dialer = dialer
        self.stats = stats
        self.counts = stats.schedule
        self.start = start
        self.end = start + self.pacer.profile.duration
        self.cap = share.cap(load.max_in_flight)
        self.idle: list[_Slot] = []
        self.opened: list[_Slot] = []
        self.in_flight = 0
        """Requests sent or queued for a connection and not yet ended."""
        self.connecting = 0
        """Connections being opened."""
        self.queue: deque[tuple[Prepared, float, bool]] = deque()
        """Requests waiting for a connection while MAX_CONNECTING are being opened."""
        self.waited_until = -math.inf
        """When a request last got a slot it had waited for."""
        self.blocked: float | None = None
        """The intended time of the request waiting for a slot, if one is."""
        self.timer: asyncio.TimerHandle | None = None
        self.next_at = self.due_at()
        """When the next request is due (a perf_counter time); None past the schedule."""
        self.over = False
        self.origin, self.max_redirects, self.cookies = origin, max_redirects, cookies
        self._plans: dict[str, StepPlan] = {}
        self._host_header, self._prefix = host_header, prefix
        self.ended = self.loop.create_future()
        """Done when the schedule is over and nothing is in flight (or a bug surfaced)."""

    def plan(self, prepared: Prepared) -> StepPlan:
        """The request as a redirect sends it on (made at its first redirect)."""
        plan = self._plans.get(prepared.name)
        if plan is None:
            plan = self._plans[prepared.name] = StepPlan(prepared, self._host_header, self._prefix)
        return plan

    def wake(self) -> None:
        """The pacing timer fired: send what is due (a timer callback cannot raise)."""
        self.guarded(self.pump, True)

    def guarded(self, step: Callable[..., None], *args: object) -> None:
        """Run a step outside a response callback; a bug in it ends the run with it."""
        try:
            step(*args)
        except Exception as exc:  # a bug in perfrun: surfaced by the run
            self.crash(exc)

    def crash(self, exc: Exception) -> None:
        """A bug in perfrun ends the run with it, not as a failed request."""
        if not self.ended.done():
            self.ended.set_exception(exc)

    def due_at(self) -> float | None:
        """When the request at the current position is due; None past the schedule."""
        due = self.pacer.due(self.positions.current)
        return None if due is None else self.start + due

    def pump(self, woke: bool = False) -> None:
        """Send every request that is due, then arm the timer for the next one. `woke`:
        the timer for the current request fired (it goes out even past the end).

        The timer is armed for whole milliseconds, rounded up: the loop's timers have a
        millisecond's resolution, and a shorter wait would have the loop spin until the
        time comes (at 20,000/s the gaps are 50 µs: a core burnt on wake-ups). A request
        thus goes out up to ~1 ms after its time, never before, and that wait counts in
        its latency (from the intended time) and in `send_delay`, as in wrk2. Sending in
        such batches also wakes the target once per batch rather than once per request
        (on a 2-core VM a cross-CPU wake-up costs more than the rest of a request)."""
        self.timer = None
        counts = self.counts
        while True:
            intended = self.next_at
            if intended is None:
                self.finish()
                return
            now = _clock()
            if intended > now:
                wait = math.ceil((intended - now) * 1000.0) / 1000.0
                self.timer = self.loop.call_later(wait, self.wake)
                return
            if not woke and now >= self.end + TIMER_RESOLUTION:
                # Behind schedule past its end: what is still due is dropped, not sent late
                # for ever, so the run ends when its schedule does.
                self.drop(1)
                return
            woke = False
            counts.due += 1
            full = self.in_flight >= self.cap
            # Capped: it waits for a slot, or it came due while an earlier one waited (a
            # slot freed since, but the cap is what made it late, not perfrun).
            capped = full or intended < self.waited_until
            counts.capped += capped
            if full:
                self.blocked = intended
                self.timer = self.loop.call_later(max(self.end - now, 0.0), self.give_up)
                return
            self.send(intended, capped)

    def send(self, intended: float, capped: bool) -> None:
        if capped:
            self.waited_until = _clock()
        self.positions.advance()
        self.next_at = self.due_at()
        self.in_flight += 1
        request = self.mix.pick(self.rng)
        if self.idle:
            self.dispatch(self.idle.pop(), request, intended, capped)
        elif self.connecting < MAX_CONNECTING:
            self.dispatch(self.open_slot(), request, intended, capped)
        else:
            # Enough connects under way: it goes on the first connection to come free.
            self.queue.append((request, intended, capped))

    def dispatch(self, slot: _Slot, request: Prepared, intended: float, capped: bool) -> None:
        self.counts.sent += 1
        slot.capped = capped
        slot.dispatch(request, intended)

    def open_slot(self) -> _Slot:
        slot = _Slot(self)
        self.opened.append(slot)
        return slot

    def finished(self, slot: _Slot) -> None:
        """A request ended (and was recorded): count it, and give its slot to a request
        waiting for a connection or for a slot at the cap."""
        if slot.queued > LATE_AFTER:
            self.counts.late += 1
            self.counts.late_own += not slot.capped
        self.in_flight -= 1
        if self.queue:  # its request is in flight already
            self.dispatch(slot, *self.queue.popleft())
            return
        self.idle.append(slot)
        if self.blocked is not None:
            self.unblock()
        elif self.over and not self.in_flight and not self.ended.done():
            self.ended.set_result(None)

    def unblock(self) -> None:
        """A slot freed for the request that waited: it goes now, then what came due."""
        intended = self.blocked
        assert intended is not None
        self.blocked = None
        if self.timer is not None:
            self.timer.cancel()
        self.send(intended, True)
        self.pump()

    def give_up(self) -> None:
        """The schedule ended while a request waited for a slot: drop it and the rest."""
        self.timer = None
        if _clock() < self.end:  # an early timer
            self.timer = self.loop.call_later(self.end - _clock(), self.give_up)
            return
        self.blocked = None
        self.guarded(self.drop, 0)

    def drop(self, due: int) -> None:
        """Drop the current request and the rest of the schedule; `due` of them (the
        current one or none) were not counted as due yet."""
        rest = remaining(self.pacer, self.positions)
        self.counts.due += due + rest
        self.counts.dropped += 1 + rest
        self.finish()

    def finish(self) -> None:
        self.over = True
        if not self.in_flight and not self.ended.done():
            self.ended.set_result(None)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for slot in self.opened:
            slot.close()


async def run_open(
    load: LoadSpec,
    mix: Mix[Prepared],
    dialer: Dialer,
    stats: ScenarioStats,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
    origin: str = "",
    host_header: str = "",
    prefix: str = "",
    max_redirects: int = 0,
    cookies: bool = False,
) -> None:
    """Send on schedule until the rate profile ends, then wait for requests in flight.
    With a `share`, only this worker's part of the schedule (and of max_in_flight).
    Up to `max_redirects` redirects are followed (to `origin`, whose Host header and
    base path are `host_header` and `prefix`), with `cookies` kept along each chain;
    the dialer's connections must then watch for Location and Set-Cookie."""
    schedule = _Schedule(
        load, mix, dialer, stats, start, share, seed, origin, host_header, prefix,
        max_redirects, cookies,
    )  # fmt: skip
    try:
        schedule.guarded(schedule.pump)
        await schedule.ended
    finally:
        schedule.close()
