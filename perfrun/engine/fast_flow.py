"""Flows on the fast engine, as callbacks: each virtual user is a state machine on its own
connection that renders its next step, sends it, keeps its cookies, follows its
redirects and captures from its response, all from the callback that brought the
response.

The rules are `perfrun.engine.flow`'s, which runs flows on any engine's sessions (the
httpx engine's); what differs is the mechanics, as in `perfrun.engine.fast_closed`: no
coroutine, task or future per request, a success without checks recorded without
building a RequestResult. What is fixed in a step's request is serialised once
(`StepPlan`); only what varies (the path, templated header values and body, the
Cookie header) is filled in per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple
from urllib.parse import urljoin, urlsplit

from perfrun.engine.backoff import Backoff
from perfrun.engine.closed import STAGE_TICK, ramp_delays
from perfrun.engine.cookies import Jar
from perfrun.engine.fast_closed import Crowd
from perfrun.engine.fast_dial import Dialer
from perfrun.engine.fast_wire import (
    Connection,
    Prepared,
    Requester,
    Response,
    request_headers,
)
from perfrun.engine.flow import header_values, take_captures
from perfrun.engine.limits import InvalidRequest
from perfrun.engine.mix import Mix
from perfrun.engine.profile import users_profile
from perfrun.engine.share import Share
from perfrun.engine.target import request_target
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.data import Data, row_for
from perfrun.scenario.model import LoadSpec, RequestSpec
from perfrun.scenario.templates import Context, Template

_clock: Final = time.perf_counter
"""`time.perf_counter`, read once (see fast_wire._clock)."""

REDIRECTS: Final = frozenset((301, 302, 303, 307, 308))
DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def redirect_method(method: str, status: int) -> str:
    """The method a redirect continues with, by httpx's rules: a 302 or 303 becomes a
    GET (but a HEAD stays a HEAD), a 301 after a POST too; 307 and 308 keep it."""
    if status in (302, 303) and method != "HEAD":
        return "GET"
    if status == 301 and method == "POST":
        return "GET"
    return method


def same_origin(url: str, origin: str) -> bool:
    ours, theirs = urlsplit(origin), urlsplit(url)
    our_port = ours.port or DEFAULT_PORTS.get(ours.scheme)
    their_port = theirs.port or DEFAULT_PORTS.get(theirs.scheme)
    return (
        ours.scheme == theirs.scheme
        and (ours.hostname or "").lower() == (theirs.hostname or "").lower()
        and our_port == their_port
    )


def next_hop(
    origin: str, target: str, location: str, plan: StepPlan, status: int, hops: int,
    most: int,
) -> Hop | str:  # fmt: skip
    """The hop a `status` redirect to `location` makes, answering `plan`'s request to
    `target` (a request target from `origin`) after `hops` redirects; or why it is not
    followed: `most` redirects followed already, another origin, or a target HTTP/1.1
    cannot carry."""
    if hops == most:
        return f"more than {most} redirects"
    try:
        url = urljoin(origin + target, location)
        same = same_origin(url, origin)
    except ValueError as exc:  # a port that is no number, a broken IPv6 address
        return f"redirect to {location!r}: not followed: {exc}"
    if not same:
        return f"redirect to {url}: another origin, not followed by the fast engine" + (
            " (engine: httpx follows it)"
        )
    parts = urlsplit(url)
    try:
        encoded = request_target((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    except ValueError as exc:
        return f"redirect to {url}: not sent: {exc}"
    method = redirect_method(plan.spec.method, status)
    return Hop(url, encoded, plan if method == plan.spec.method else plan.redirected(method))


def continued(spec: RequestSpec, method: str) -> RequestSpec:
    """The request a redirect continues `spec` with when it changes the method to
    `method` (a GET): without the body and its Content-Type (RFC 9110 15.4)."""
    headers = without_content_type(spec.headers.items())
    return dataclasses.replace(spec, method=method, json=None, body=None, headers=dict(headers))


def without_content_type(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in headers if name.lower() != "content-type")


class StepPlan:
    """A flow step's request on the fast engine: the request line's method, the headers
    that never vary, serialised once; per request, `payload` adds the target, the
    templated header values, the Cookie header and the body."""

    __slots__ = (
        "_fixed",
        "_host_header",
        "_line",
        "_redirected",
        "_sized",
        "as_is",
        "body",
        "body_template",
        "captures",
        "close",
        "dynamic",
        "endpoint",
        "head",
        "invalid",
        "judge",
        "keep_body",
        "keep_headers",
        "name",
        "once",
        "own_cookie",
        "passes",
        "path_template",
        "prepared",
        "spec",
        "static_payload",
        "static_target",
        "target",
        "templated",
        "think_time",
    )  # fmt: skip

    def __init__(self, prepared: Prepared, host_header: str, prefix: str) -> None:
        spec = prepared.spec
        self.spec = spec
        self.prepared = prepared
        """What `Requester` reads of a request: its name, for a failure's result."""
        self.name = spec.name
        self.endpoint: Any = None
        """Where its successes are recorded (`ScenarioStats.endpoint`): bound at its
        first result, so a step that never ran is not in the report."""
        self.judge = prepared.judge
        self.head = prepared.head
        self.close = prepared.close
        self.keep_body = prepared.keep_body
        self.keep_headers = prepared.keep_headers
        self.invalid = prepared.invalid
        """Why its request cannot be sent as the scenario has it (None: it can)."""
        self.captures = spec.captures
        self.once = spec.once
        self.think_time = spec.think_time
        self.passes = prepared.expected if not spec.checks else frozenset()
        """Statuses that are a success without judging further (captures aside)."""
        self._host_header = host_header
        templated = spec.templated
        fixed = dict(spec.headers)
        self.dynamic: tuple[tuple[str, Template], ...] = ()
        self.path_template = self.body_template = None
        if templated is not None:
            self.dynamic = tuple((n, t) for n, t in templated.headers if not t.static)
            if not templated.path.static:
                self.path_template = templated.path
            if templated.body is not None and not templated.body.static:
                self.body_template = templated.body
        self.own_cookie = any(name.lower() == "cookie" for name in spec.headers)
        """The step sets its Cookie header itself: the jar's is not sent (as in httpx)."""
        self.static_target = prefix + spec.path
        self.target: str | None = None
        """`static_target` as the request line has it; None when it cannot be sent."""
        with contextlib.suppress(ValueError):  # then raised when sent
            self.target = request_target(self.static_target)
        self.as_is = self.path_template is not None and _as_is(prefix, self.path_template)
        """The rendered path is its own request target, whatever its slots' values."""
        self.body = prepared.body
        self._sized = spec.method in ("POST", "PUT", "PATCH")
        """A Content-Length even for an empty body (as httpx sends it)."""
        self._line = f"{spec.method} ".encode("ascii")
        self._fixed = self._serialise_fixed(fixed)
        self._redirected: dict[str, StepPlan] = {}
        self.templated = bool(self.dynamic or self.path_template or self.body_template)
        """Something in the request varies from user to user or request to request."""
        self.static_payload: bytes | None = None
        """The bytes of a request with nothing templated and no cookie, built once."""
        if not self.templated and self.target is not None and self.invalid is None:
            with contextlib.suppress(ValueError, UnicodeError):  # then raised when sent
                self.static_payload = self.payload(self.target, (), self.body, None)

    def _serialise_fixed(self, headers: Mapping[str, str]) -> bytes:
        merged = request_headers(self.spec, self._host_header, headers)
        merged.pop("content-length", None)  # from the body sent
        for name, _ in self.dynamic:  # sent as rendered
            merged.pop(name.lower(), None)
        return "".join(f"{name}: {value}\r\n" for name, value in merged.values()).encode("latin-1")

    def payload(
        self, target: str, headers: Sequence[tuple[str, str]], body: bytes, cookie: str | None
    ) -> bytes:
        """The request's bytes to `target` (a request target: see `request_target`).
        UnicodeError when HTTP/1.1 cannot carry a header value."""
        parts = [self._line, target.encode("ascii"), b" HTTP/1.1\r\n", self._fixed]
        for name, value in headers:
            parts.append(f"{name}: {value}\r\n".encode("latin-1"))
        if cookie is not None and not self.own_cookie:
            parts.append(f"Cookie: {cookie}\r\n".encode("latin-1"))
        if body or self._sized:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(b"\r\n")
        parts.append(body)
        return b"".join(parts)

    def redirected(self, method: str) -> StepPlan:
        """This step as a redirect continues it with another `method` (no body then)."""
        plan = self._redirected.get(method)
        if plan is None:
            spec, max_body = continued(self.spec, method), self.prepared.max_body
            prepared = Prepared(spec, self._host_header, "", max_body)
            plan = self._redirected[method] = StepPlan(prepared, self._host_header, "")
        return plan


class Hop(NamedTuple):
    """Where a redirect goes next: its URL, its request target, and what it sends (the
    step's plan, or the plan without its body when the method changes)."""

    url: str
    target: str
    plan: StepPlan


def unsendable(exc: ValueError) -> ErrorKind:
    """The kind of a request that could not be written: a control character in its
    target or a header is `invalid_request` (as on httpx); a value HTTP/1.1 cannot
    encode at all (not Latin-1) stays `other`, as httpx's UnicodeEncodeError does."""
    return ErrorKind.OTHER if isinstance(exc, UnicodeError) else ErrorKind.INVALID_REQUEST


def _as_is(prefix: str, path: Template) -> bool:
    """Whether `prefix` and `path` rendered is its own request target for any values of
    its slots: their values are numbers or UUIDs, and the rest needs no encoding."""
    if not path.url_safe:
        return False
    sample = prefix + "".join(part if isinstance(part, str) else "0" for part in path.parts)
    try:
        return request_target(sample) == sample
    except ValueError:
        return False


class Flows(Crowd):
    """What a flow's users share: the steps' plans, the data, the rules of the run."""

    def __init__(
        self, dialer: Dialer, plans: Sequence[StepPlan], stats: ScenarioStats, load: LoadSpec,
        data: Data | None, origin: str, prefix: str, cookies: bool, max_redirects: int,
        weighted: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(dialer, stats, load.think_time)
        self.plans = tuple(plans)
        self.target: Callable[[], int] | None = None
        """Staged: how many users run now (user i runs while it exceeds i)."""
        self.mix = Mix(self.plans, (p.spec.weight for p in plans)) if weighted else None
        """A `requests:` mix: each iteration is one request drawn by weight."""
        self.length = 1 if weighted else len(self.plans)
        """Steps per iteration."""
        self.limit = load.requests_per_user if weighted else load.iterations
        """Iterations per user (None: until the deadline)."""
        self.templated = any(plan.templated for plan in plans)
        self.single = (
            self.length == 1
            and load.think_time == 0
            and all(not p.once and not p.think_time and not p.close for p in plans)
        )  # fmt: skip
        """One request per iteration, none once, no think time: a success's callback
        can send the user's next request at once (`quick`)."""
        self.plain = (
            self.single
            and not self.templated
            and data is None
            and all(not p.captures and p.static_payload is not None for p in plans)
        )  # fmt: skip
        """Single, and nothing varies from one request to the next: no template, data or
        capture. The next request's bytes are those built once."""
        self.prefix = prefix
        """The base URL's path: templated paths are under it."""
        self.load = load
        self.data = data
        self.origin = origin
        self.cookies = cookies
        self.max_redirects = max_redirects


COOKIED_MAX: Final = 4096
"""The largest request a user keeps with its Cookie header (see FlowUser.with_cookie)."""


class FlowUser(Requester):
    """One virtual user of a flow: sends its next step, and from the callback that
    brings the response records it, captures from it, follows its redirect, then sends
    the next step (or arms a think-time timer)."""

    __slots__ = (
        "backoff", "body", "chain_started", "connect_seconds", "context", "cookied",
        "done_once", "flows", "headers", "hops", "index", "iteration", "jar", "limit",
        "payload", "plan", "position", "rng", "sent_this_time", "stats", "step", "target",
        "timeout", "timer", "until", "variables",
    )  # fmt: skip

    def __init__(
        self, flows: Flows, index: int, rng: random.Random, deadline: float | None
    ) -> None:
        super().__init__(flows.dialer)
        self.flows = flows
        self.stats = flows.stats
        self.timeout = flows.dialer.timeout
        self.index = index
        self.rng = rng
        self.until = deadline if deadline is not None else float("inf")
        self.limit = flows.limit if flows.limit is not None else sys.maxsize
        self.iteration = -1
        self.position = flows.length
        """The next step's index; past the last: the next iteration begins."""
        self.sent_this_time = False
        self.variables: dict[str, str] = {}
        self.done_once: set[str] = set()
        self.context = Context(index, 0, rng)
        self.jar = Jar(flows.origin) if flows.cookies else None
        self.cookied: dict[StepPlan, tuple[str, bytes]] = {}
        """A static step's bytes with this user's Cookie header, by step, as last sent
        (see `with_cookie`)."""
        self.step: StepPlan | None = None
        """The step under way; `plan` is what its current request sends (a redirect
        may change the method)."""
        self.plan: StepPlan | None = None
        self.target = ""
        self.headers: Sequence[tuple[str, str]] = ()
        self.body = b""
        self.payload = b""
        self.hops = 0
        self.chain_started = 0.0
        self.connect_seconds: float | None = None
        """Seconds the step's request spent opening a connection; None: none opened."""
        self.timer: asyncio.TimerHandle | None = None
        self.backoff = Backoff()
        """Its failed connects in a row: a dead target is not hammered."""
        flows.join(self)

    # --- the flow's course

    def resume_at(self, when: float) -> None:
        """Go on at `when` (a perf_counter time), never before: uvloop's timers can fire
        a millisecond early, so an early one is re-armed."""
        self.timer = None
        try:  # a timer's callback: a perfrun bug would only be logged by the loop
            now = _clock()
            if when > now:
                self.timer = self.flows.loop.call_later(when - now, self.resume_at, when)
            else:
                self.advance(now)
        except Exception as exc:
            self.flows.crash(exc)

    def advance(self, now: float) -> None:
        """Send the next step that runs, or leave: after the last iteration, at the
        deadline, or when an iteration had nothing left to send (every step once)."""
        flows = self.flows
        plans, mix, target = flows.plans, flows.mix, flows.target
        while True:
            if now >= self.until or (target is not None and self.index >= target()):
                self.leave()
                return
            if self.position >= flows.length:
                if self.iteration >= 0 and not self.sent_this_time:
                    self.leave()
                    return
                self.iteration += 1
                if self.iteration >= self.limit:
                    self.leave()
                    return
                self._begin_iteration()
            plan = plans[self.position] if mix is None else mix.pick(self.rng)
            self.position += 1
            if plan.once and plan.name in self.done_once:
                continue
            self.sent_this_time = True
            self.send(plan)
            return

    def _begin_iteration(self) -> None:
        flows = self.flows
        if flows.data is not None:
            row = row_for(flows.data, self.index, self.iteration, flows.load.users, self.rng)
            self.variables.update(row)
        self.context.iteration = self.iteration
        self.position = 0
        self.sent_this_time = False

    def send(self, plan: StepPlan) -> None:
        """Render the step for this user and send it."""
        self.step = self.plan = plan
        self.hops = 0
        self.connect_seconds = None
        try:
            if plan.invalid is not None:
                raise InvalidRequest(plan.invalid)
            if plan.templated:
                self._render(plan)
            else:
                self.target = plan.target or request_target(plan.static_target)
                self.headers, self.body = (), plan.body
            jar = self.jar
            cookie = jar.header(self.target) if jar is not None else None
            payload = plan.static_payload
            if payload is None:
                payload = plan.payload(self.target, self.headers, self.body, cookie)
            elif cookie is not None:
                payload = self.with_cookie(plan, cookie)
            self.payload = payload
        except (ValueError, UnicodeError) as exc:
            now = _clock()
            detail = f"{plan.name}: not sent: {exc}"
            kind = unsendable(exc)
            self.stats.record(RequestResult(plan.name, now, 0.0, 0, 0, kind, detail))
            self.step_ended(False, now, soon=True)
            return
        conn = self.conn
        if conn is not None and conn.answering and conn.reusable and not conn.closed:
            # From a response's callback, on its open connection (Requester.dispatch, less
            # what it need not check).
            self.prepared = plan.prepared
            self.started = self.written = self.chain_started = started = _clock()
            self.queued = 0.0
            conn.request(self.payload, self, started + self.timeout, plan.head,
                         plan.keep_headers, plan.keep_body)  # fmt: skip
            return
        self.chain_started = _clock()  # before `write` reads it
        self.dispatch(plan.prepared)

    def with_cookie(self, plan: StepPlan, cookie: str) -> bytes:
        """A static step's bytes with this user's `cookie`: built again only when the
        cookie changed since the step last went out (a session cookie goes with every
        request a user sends; building them costs ~1 µs). Only requests up to
        COOKIED_MAX bytes are kept, one per user and step: a large body costs more to
        send than to copy, and 10,000 users' copies of it would not be small."""
        sent = self.cookied.get(plan)
        if sent is not None and sent[0] == cookie:
            return sent[1]
        assert plan.target is not None  # a static payload was built to it
        payload = plan.payload(plan.target, (), plan.body, cookie)
        if len(payload) <= COOKIED_MAX:
            self.cookied[plan] = (cookie, payload)
        return payload

    def _render(self, plan: StepPlan) -> None:
        """The target, header values and body of the step as this user sends it now."""
        variables, context = self.variables, self.context
        path = plan.path_template
        if path is None:
            self.target = plan.target or request_target(plan.static_target)
        elif plan.as_is:
            self.target = self.flows.prefix + path.render(variables, context)
        else:
            self.target = request_target(self.flows.prefix + path.render(variables, context))
        dynamic = plan.dynamic
        self.headers = header_values(plan.name, dynamic, variables, context) if dynamic else ()
        body = plan.body_template
        self.body = plan.body if body is None else body.render(variables, context).encode()

    def _cookie(self) -> str | None:
        jar = self.jar
        return jar.header(self.target) if jar is not None else None

    def write(self) -> None:
        conn, plan = self.conn, self.plan
        assert conn is not None and plan is not None
        # The timeout covers a step's whole redirect chain, as in httpx.
        conn.request(self.payload, self, self.chain_started + self.timeout, plan.head,
                     plan.keep_headers, plan.keep_body)  # fmt: skip

    def connected(self, seconds: float) -> None:
        self.connect_seconds = seconds  # recorded with the step's result (see below)
        self.backoff.failures = 0  # the target answers connects again

    def record_connect(self) -> None:
        """The step's connect phase, when it opened a connection and was no chain (a
        chain's phases are not timed)."""
        if self.connect_seconds is not None and not self.hops:
            self.stats.connected(self.endpoint(), self.chain_started, self.connect_seconds)

    # --- how a request ended

    def on_response(self, conn: Connection) -> None:
        now = _clock()
        try:  # free in CPython 3.11 unless something raises
            plan, step = self.plan, self.step
            assert plan is not None and step is not None
            status, response = conn.status, conn.response
            if response.set_cookies and self.jar is not None:
                self.jar.extract(self.target, response.set_cookies)
            flows = self.flows
            final = not self.hops and not (status in REDIRECTS and flows.max_redirects)
            if final:  # the step's own response, no redirect to follow: judged once, here
                failures = (
                    () if status in step.passes
                    else step.judge.failures(status, response.headers, response.content)
                )  # fmt: skip
                if (
                    failures == ()
                    and flows.single
                    and self.connect_seconds is None
                    and conn.reusable
                    and self.quick(conn, plan, now)
                ):
                    return
            if not conn.reusable or plan.close:
                conn.close()
            if status in REDIRECTS and flows.max_redirects:
                location = response.headers.get("location")
                if location is not None:
                    self.redirect(conn, location, now)
                    return
            if not final:  # a chain's last response (judged by the step's checks, not its
                # hop's), or a redirect without a Location
                failures = step.judge.failures(status, response.headers, response.content)
            if failures == () and not self.hops:  # expected, and any checks passed
                self.passed(conn, step, now)
            else:
                self.judged(conn, now, failures)
        except Exception as exc:  # a bug in perfrun: surfaced by the run
            self.flows.crash(exc)

    def passed(self, conn: Connection, step: StepPlan, now: float) -> None:
        """The step's own response was expected and passed its checks: its captures are
        taken, and it is recorded as a success (or as `capture_failed`)."""
        if step.captures:
            missed = self.capture(step, conn.status, conn.response)
            if missed is not None:
                self.failed_capture(conn, now, missed)
                return
        self.record_connect()
        self.stats.ok(step.endpoint or self.endpoint(), self.started, now, 0.0, conn.size,
                      self.written, conn.first_byte, conn.status)  # fmt: skip
        self.step_ended(True, now)

    def endpoint(self) -> Any:
        """The step's endpoint, bound now if it was not."""
        step = self.step
        assert step is not None
        if step.endpoint is None:
            step.endpoint = self.stats.endpoint(step.name)
        return step.endpoint

    def quick(self, conn: Connection, plan: StepPlan, now: float) -> bool:
        """The hot path of a single flow (see `Flows.single`) after a success (its
        checks passed, its cookies kept) that is no redirect, as the closed model's
        users have it: captures taken, the success recorded and the next iteration's
        request sent at once on the same connection; in a plain flow, its bytes built
        once (per Cookie header). False, having done nothing, when the user stops now."""
        iteration = self.iteration + 1
        flows = self.flows
        if (
            iteration >= self.limit
            or now >= self.until
            or (flows.target is not None and self.index >= flows.target())
        ):
            return False
        if plan.captures:
            missed = self.capture(plan, conn.status, conn.response)
            if missed is not None:
                self.failed_capture(conn, now, missed)
                return True
        mix = flows.mix
        following = flows.plans[0] if mix is None else mix.pick(self.rng)
        self.stats.ok(plan.endpoint or self.endpoint(), self.started, now, 0.0, conn.size,
                      self.written, conn.first_byte, conn.status)  # fmt: skip
        self.iteration = iteration
        if not flows.plain:
            self._begin_iteration()
            self.position = 1
            self.sent_this_time = True
            self.send(following)
            return True
        payload = following.static_payload
        assert payload is not None  # see Flows.plain
        if following is not plan:  # (a one-step flow sends the same step again)
            self.step = self.plan = following
            assert following.target is not None  # a static payload has a static target
            self.target, self.body = following.target, following.body
            self.prepared = following.prepared
        jar = self.jar
        if jar is not None and not jar.empty:
            cookie = jar.header(self.target)
            if cookie is not None:
                payload = self.with_cookie(following, cookie)
        self.payload = payload
        self.started = self.written = self.chain_started = started = _clock()
        conn.request(payload, self, started + self.timeout, following.head,
                     following.keep_headers, following.keep_body)  # fmt: skip
        return True

    def judged(self, conn: Connection, now: float, failures: tuple[str, ...] | None) -> None:
        """Record the response with the checks it failed (see Judge.failures), or a
        redirect chain's last, then capture from it."""
        step, response = self.step, conn.response
        assert step is not None
        result = step.judge.result(
            self.chain_started, now - self.chain_started, 0.0, conn.status, conn.size, failures
        )
        if self.hops:
            result = result._replace(redirects=self.hops)
        else:
            first = conn.first_byte
            result = result._replace(wait=first - self.written, receive=now - first)
        if result.error is None and step.captures:
            missed = self.capture(step, conn.status, response)
            if missed is not None:
                result = result._replace(error=ErrorKind.CAPTURE_FAILED, detail=missed)
        self.record_connect()
        self.stats.record(result)
        self.step_ended(result.error is None, now)

    def capture(self, step: StepPlan, status: int, response: Response) -> str | None:
        """Take the step's captures into the user's variables; when one finds nothing,
        none is taken and what was missed is returned."""
        body = response.content() if step.keep_body else b""
        return take_captures(step.captures, status, response.headers, body, self.variables)

    def failed_capture(self, conn: Connection, now: float, missed: str) -> None:
        step = self.step
        assert step is not None
        first = conn.first_byte
        self.record_connect()
        self.stats.record(RequestResult(
            step.name, self.started, now - self.started, conn.status, conn.size,
            ErrorKind.CAPTURE_FAILED, missed, wait=first - self.written,
            receive=now - first,
        ))  # fmt: skip
        self.step_ended(False, now)

    def redirect(self, conn: Connection, location: str, now: float) -> None:
        """Follow a redirect to `location`, or fail the step when it goes past
        `max_redirects` or to another origin."""
        flows, plan = self.flows, self.plan
        assert plan is not None
        hop = next_hop(flows.origin, self.target, location, plan, conn.status, self.hops,
                       flows.max_redirects)  # fmt: skip
        if isinstance(hop, str):
            self.chain_failed(conn, now, hop)
            return
        if hop.plan is not plan:  # the body goes, and its Content-Type
            self.body = b""
            self.headers = without_content_type(self.headers)
        self.plan, self.target = hop.plan, hop.target
        self.hops += 1
        try:
            self.payload = hop.plan.payload(self.target, self.headers, self.body, self._cookie())
        except UnicodeError as exc:
            self.chain_failed(conn, now, f"redirect to {hop.url}: not sent: {exc}")
            return
        self.dispatch(hop.plan.prepared)

    def chain_failed(self, conn: Connection, now: float, detail: str) -> None:
        step = self.step
        assert step is not None
        started = self.chain_started
        self.stats.record(RequestResult(
            step.name, started, now - started, conn.status, conn.size, ErrorKind.OTHER, detail,
            redirects=self.hops,
        ))  # fmt: skip
        self.step_ended(False, now)

    def ended(self, result: RequestResult, now: float) -> None:
        """A request failed (connect, timeout, reset, protocol): one result for its step."""
        step = self.step
        assert step is not None
        if self.hops:
            result = result._replace(
                endpoint=step.name, started=self.chain_started,
                latency=now - self.chain_started, redirects=self.hops,
            )  # fmt: skip
        self.record_connect()
        self.stats.record(result)
        self.step_ended(False, now, backoff=self.backoff.after(result.error))

    def step_ended(
        self, success: bool, now: float, soon: bool = False, backoff: float = 0.0
    ) -> None:
        """After a step's result: note a once step done, end the iteration after a
        failure later steps depend on, then think or go on (`soon`: from the loop, not
        from here, when no request went out: no recursion from one step to the next);
        `backoff`: the wait its failed connects call for, when longer than the think."""
        step = self.step
        assert step is not None
        think = step.think_time if step.think_time is not None else self.flows.think_time
        if success:
            if step.once:
                self.done_once.add(step.name)
        elif step.once or step.captures:
            self.position = self.flows.length  # the steps after it need what it lacks
            think = 0.0
        wait = min(backoff, self.until - now)  # connects keep failing; never past the end
        if wait > think:
            self.flows.backoffs.add(wait - think)
            think = wait
        if think > 0 or soon:
            self.timer = self.flows.loop.call_later(think, self.resume_at, now + think)
        else:
            self.advance(now)

    def crash(self, exc: Exception) -> None:
        self.flows.crash(exc)

    def leave(self) -> None:
        self.halt()
        self.flows.leave(self)

    def halt(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.close()


async def run_flow(
    load: LoadSpec,
    plans: Sequence[StepPlan],
    data: Data | None,
    dialer: Dialer,
    stats: ScenarioStats,
    *,
    origin: str,
    prefix: str,
    start: float,
    share: Share = Share.WHOLE,
    seed: int | None = None,
    cookies: bool = True,
    max_redirects: int = 10,
    weighted: bool = False,
) -> None:
    """Run the flow from `start` (a perf_counter time) to completion, every result
    recorded in `stats`; `weighted`: the plans are a `requests:` mix, one drawn by
    weight per iteration. With a `share`, only this worker's users run (user indices,
    and so data rows, are the same whichever worker runs a user)."""
    rng = random.Random(seed)
    flows = Flows(
        dialer, plans, stats, load, data, origin, prefix, cookies, max_redirects, weighted
    )
    try:
        if load.stages:
            await _staged(flows, load, start, share, rng)
        else:
            deadline = start + load.duration if load.duration is not None else None
            delays = ramp_delays(load.users, load.ramp_up)
            for index in share.indices(load.users):
                user = FlowUser(flows, index, random.Random(rng.random()), deadline)
                user.resume_at(start + delays[index])
        await flows.all_left()
    finally:
        flows.stop()


async def _staged(
    flows: Flows, load: LoadSpec, start: float, share: Share, rng: random.Random
) -> None:
    """Users stages, as `perfrun.engine.fast_closed.run_closed_stages` runs them: user i
    runs while the profile's target exceeds i (a user leaving finishes its request
    first); one back later is a new user (new variables and cookies)."""
    profile = users_profile(load)
    deadline = start + profile.duration

    def target() -> int:
        return int(profile.value_at(_clock() - start) + 0.5)

    flows.target = target
    active: dict[int, FlowUser] = {}
    while _clock() < deadline:
        for index in share.indices(target()):
            user = active.get(index)
            if user is None or user not in flows.users:
                user = active[index] = FlowUser(flows, index, random.Random(rng.random()), deadline)
                user.resume_at(_clock())
        flows.check()
        await asyncio.sleep(STAGE_TICK)
