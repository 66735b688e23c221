"""Flows: every virtual user runs the scenario's steps in order, iteration after iteration,
with variables of its own (its data row, what it captured) on a session of its own.

The rules:
- A user runs `iterations` iterations, or iterations until `duration` has passed: no step
  starts after the deadline, and a step in flight then completes and counts.
- `once` steps run in the user's first iteration only; a once step that fails is tried
  again at the next iteration.
- A capture that finds nothing fails its request (`capture_failed`). A failed step whose
  captures or once-ness later steps depend on ends the iteration: the steps after it
  would only fail for want of its variables. Other failed steps do not.
- After each step, its `think_time` (else the load's) passes before the next; after
  BACKOFF_AFTER failed connects in a row, the longer back-off wait instead, never past
  the deadline (`perfrun.engine.backoff`).
- A user whose steps are all `once` leaves when they are done: it has nothing to send.
- At each iteration the user's data row (`perfrun.scenario.data.row_for`) is laid over
  its variables; captures persist from one iteration to the next.
Users start at their ramp-up offsets, like the closed model's. A `requests:` mix that
needs users (templates, data rows, cookies, redirects) runs as a flow whose iterations
are each one request drawn by weight (`weighted`), `requests_per_user` of them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence

from perfrun.engine.backoff import Backoff, Backoffs
from perfrun.engine.base import Engine, Exchange, Rendered, Session, Sink
from perfrun.engine.closed import STAGE_TICK, pause, ramp_delays
from perfrun.engine.limits import check_target, check_values
from perfrun.engine.mix import RequestMix
from perfrun.engine.profile import users_profile
from perfrun.engine.share import Share
from perfrun.engine.timing import sleep_until
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.scenario.captures import Capture
from perfrun.scenario.data import Data, row_for
from perfrun.scenario.model import LoadSpec, RequestSpec
from perfrun.scenario.templates import Context, Template


async def run_flow(
    load: LoadSpec,
    steps: Sequence[RequestSpec],
    data: Data | None,
    engine: Engine,
    sink: Sink,
    *,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
    cookies: bool = True,
    max_redirects: int = 10,
    weighted: bool = False,
    backoffs: Backoffs | None = None,
) -> None:
    """Run the flow from `start` (a perf_counter time) to completion; every result goes
    to `sink`; `weighted`: the steps are a `requests:` mix, one drawn by weight per
    iteration. With a `share`, only this worker's users run (user indices, and so data
    rows, are the same whichever worker runs a user). The users' waits for a target
    whose connects keep failing are counted into `backoffs`."""
    rng = random.Random(seed)
    mix = RequestMix(steps) if weighted else None
    waits = backoffs if backoffs is not None else Backoffs()

    def user(index: int, target: Callable[[], int] | None = None) -> _User:
        return _User(index, load, steps, data, random.Random(rng.random()), sink, cookies,
                     max_redirects, mix, target, waits)  # fmt: skip

    if load.stages:
        await _staged(load, engine, user, start, share)
        return
    deadline = start + load.duration if load.duration is not None else None
    delays = ramp_delays(load.users, load.ramp_up)
    await asyncio.gather(*(
        user(index).run(engine, start + delays[index], deadline)
        for index in share.indices(load.users)
    ))  # fmt: skip


async def _staged(
    load: LoadSpec, engine: Engine, user: Callable[[int, Callable[[], int]], _User],
    start: float, share: Share,
) -> None:  # fmt: skip
    """Users stages, as `perfrun.engine.closed.run_closed_stages` runs them: user i runs
    while the profile's target exceeds i (a user leaving finishes its request first);
    one back later is a new user (new variables and cookies)."""
    profile = users_profile(load)
    deadline = start + profile.duration

    def target() -> int:
        return int(profile.value_at(time.perf_counter() - start) + 0.5)

    running: dict[int, asyncio.Task[None]] = {}
    try:
        while time.perf_counter() < deadline:
            for index in share.indices(target()):
                task = running.get(index)
                if task is None or task.done():
                    if task is not None:
                        task.result()  # a bug in perfrun surfaces
                    coroutine = user(index, target).run(engine, time.perf_counter(), deadline)
                    running[index] = asyncio.create_task(coroutine)
            await asyncio.sleep(STAGE_TICK)
        await asyncio.gather(*running.values())
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)


class _User:
    def __init__(
        self, index: int, load: LoadSpec, steps: Sequence[RequestSpec], data: Data | None,
        rng: random.Random, sink: Sink, cookies: bool, max_redirects: int,
        mix: RequestMix | None, target: Callable[[], int] | None = None,
        backoffs: Backoffs | None = None,
    ) -> None:  # fmt: skip
        self.mix = mix
        self.backoff = Backoff()
        """Its failed connects in a row: a dead target is not hammered."""
        self.backoffs = backoffs if backoffs is not None else Backoffs()
        self.target = target
        """Staged: how many users run now (this one while it exceeds its index)."""
        self.limit = load.requests_per_user if mix is not None else load.iterations
        """Iterations (of one drawn request, for a mix) per user; None: until the deadline."""
        self.cookies = cookies
        self.max_redirects = max_redirects
        self.index = index
        self.load = load
        self.steps = steps
        self.data = data
        self.rng = rng
        self.sink = sink
        self.variables: dict[str, str] = {}
        self.done_once: set[str] = set()

    async def run(self, engine: Engine, start_at: float, deadline: float | None) -> None:
        await sleep_until(start_at)
        session = engine.session()
        try:
            iteration = 0
            while self.limit is None or iteration < self.limit:
                if not self._staying(deadline):
                    return
                if not await self._iteration(session, iteration, deadline):
                    return
                if len(self.done_once) == len(self.steps):
                    return  # every step was once, and done: nothing left to send
                iteration += 1
        finally:
            await session.aclose()

    def _staying(self, deadline: float | None) -> bool:
        """Whether the user sends another step now: before the deadline, and (staged)
        while the stages' target exceeds its index."""
        if deadline is not None and time.perf_counter() >= deadline:
            return False
        return self.target is None or self.index < self.target()

    async def _iteration(self, session: Session, iteration: int, deadline: float | None) -> bool:
        """One pass over the steps; False once the deadline has passed."""
        if self.data is not None:
            row = row_for(self.data, self.index, iteration, self.load.users, self.rng)
            self.variables.update(row)
        context = Context(self.index, iteration, self.rng)
        steps = self.steps if self.mix is None else (self.mix.pick(self.rng),)
        for step in steps:
            if step.once and step.name in self.done_once:
                continue
            if not self._staying(deadline):
                return False
            result = await self._step(session, step, context)
            self.sink(result)
            backoff = self.backoff.after(result.error)
            if result.error is None:
                if step.once:
                    self.done_once.add(step.name)
            elif step.once or step.captures:
                await pause(0.0, backoff, deadline, self.backoffs)
                break  # the steps after it need what it did not give
            think = step.think_time if step.think_time is not None else self.load.think_time
            await pause(think, backoff, deadline, self.backoffs)
        return True

    async def _step(self, session: Session, step: RequestSpec, context: Context) -> RequestResult:
        try:
            rendered = render(step, self.variables, context)
        except ValueError as exc:  # InvalidRequest: a value HTTP cannot carry
            await asyncio.sleep(0)  # nothing was sent: let the other users and signals run
            return RequestResult(
                step.name, time.perf_counter(), 0.0, 0, 0, ErrorKind.INVALID_REQUEST, str(exc)
            )
        exchange = await session.exchange(step, rendered, self.cookies, self.max_redirects)
        if exchange.result.error is not None or not step.captures:
            return exchange.result
        return self._capture(step, exchange)

    def _capture(self, step: RequestSpec, exchange: Exchange) -> RequestResult:
        result = exchange.result
        missed = take_captures(
            step.captures, result.status, exchange.headers, exchange.body, self.variables
        )
        if missed is not None:
            return result._replace(error=ErrorKind.CAPTURE_FAILED, detail=missed)
        return result


def take_captures(
    captures: Sequence[Capture], status: int, headers: Mapping[str, str], body: bytes,
    variables: dict[str, str],
) -> str | None:  # fmt: skip
    """Take the captures of a response into `variables`; when one finds nothing, none
    is taken and what was missed is returned."""
    if len(captures) == 1:  # the usual case, without the dict
        (capture,) = captures
        text = capture.take(status, headers, body)
        if text is None:
            where = f"{capture.source} {capture.expression!r}"
            return f"capture {capture.name} ({where}) found nothing"
        variables[capture.name] = text
        return None
    taken: dict[str, str] = {}
    for capture in captures:
        text = capture.take(status, headers, body)
        if text is None:
            where = f"{capture.source} {capture.expression!r}"
            return f"capture {capture.name} ({where}) found nothing"
        taken[capture.name] = text
    variables.update(taken)
    return None


def render(step: RequestSpec, variables: Mapping[str, str], context: Context) -> Rendered | None:
    """The step as this user sends it now; None when nothing in it varies.
    InvalidRequest when its rendered path or a header value holds a control character
    (a line break would inject headers)."""
    templated = step.templated
    if templated is None:
        return None
    headers = dict(header_values(step.name, templated.headers, variables, context))
    body = templated.body.render(variables, context).encode() if templated.body else None
    path = templated.path.render(variables, context)
    if not templated.path.static:
        check_target(path)
    return Rendered(path, headers, body)


def header_values(
    step: str, templates: Sequence[tuple[str, Template]], variables: Mapping[str, str],
    context: Context,
) -> list[tuple[str, str]]:  # fmt: skip
    """The header values as this user sends them now. InvalidRequest when one holds a
    control character such as CR, LF or NUL (a line break would inject headers)."""
    values = [(name, template.render(variables, context)) for name, template in templates]
    check_values(step, values)
    return values
