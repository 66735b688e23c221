"""Scenario stats that also stream each request out (`--out jsonl`) and keep per-second
figures per endpoint (`--out csv`): the same figures as ScenarioStats, plus a hook.

Only a run that asks for data out builds these; every other run keeps ScenarioStats, so
the hook costs nothing when off. Both of the engines' recording methods are hooked
(`ok`, the fast engine's success path, and `record`): every request goes through one.

A request's JSON line (fields in this order; see docs/report.md, "Data out"):
`ts` (its intended start, Unix seconds), `scenario`, `endpoint`, `latency_ms` (from
the intended start, as the stats count it), `ok`, `status` (null when no response
came), `error` (its error kind, null when ok), `bytes` (received), `warmup`.

Lines gather in a list and leave in chunks of FLUSH_LINES through the `write` callable
given (the file is the run layer's business), so there is no system call per request,
and a chunk holds whole lines only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import floor
from typing import cast

from perfrun.metrics.histogram import HIGHEST_US, LOWEST_US, index_of
from perfrun.metrics.result import RequestResult
from perfrun.metrics.stats import EndpointStats, ScenarioStats
from perfrun.metrics.timeline import Point, Timeline
from perfrun.scenario.model import LoadModel, Scenario

FLUSH_LINES = 4096
"""Lines buffered before one write (~0.6 MB of text)."""
ALL_ENDPOINTS = "*"
"""The endpoint column of a CSV row that counts every endpoint."""
CSV_HEADER = (
    "second", "time", "scenario", "endpoint", "requests", "errors", "rps",
    "p50_ms", "p95_ms", "p99_ms", "bytes",
)  # fmt: skip

Write = Callable[[str], None]


class EndpointSeconds:
    """One endpoint's requests by the second they completed in (a Timeline, so its
    memory is bounded and it merges across workers losslessly), and their bytes."""

    __slots__ = ("bytes", "timeline")

    def __init__(self, origin: float) -> None:
        self.timeline = Timeline(origin)
        self.bytes: dict[int, int] = {}
        """Bytes received, by second since the origin."""

    def add(self, finished: float, latency: float, ok: bool, size: int) -> None:
        timeline = self.timeline
        if ok:
            # counts_index, inlined: this runs for every request of the run.
            us = floor(latency * 1_000_000.0 + 0.5)
            if us < LOWEST_US:
                us = LOWEST_US
            elif us > HIGHEST_US:
                us = HIGHEST_US
            timeline.success(finished, index_of(us))
        else:
            timeline.failure(finished)
        if size:
            second = int(finished - timeline.origin)
            second = second if second > 0 else 0
            self.bytes[second] = self.bytes.get(second, 0) + size

    def merge(self, other: EndpointSeconds) -> None:
        self.timeline.merge(other.timeline)
        for second, size in other.bytes.items():
            self.bytes[second] = self.bytes.get(second, 0) + size

    def bytes_in(self, first: int, span: int) -> int:
        """Bytes received in the `span` seconds from `first`."""
        return sum(self.bytes.get(second, 0) for second in range(first, first + span))


class Out:
    """What one endpoint's requests need to go out: the constant part of its lines,
    and its seconds (None when no CSV is asked for)."""

    __slots__ = ("head", "seconds")

    def __init__(self, scenario: str, endpoint: str, seconds: EndpointSeconds | None) -> None:
        self.head = f'"scenario":{json.dumps(scenario)},"endpoint":{json.dumps(endpoint)},'
        self.seconds = seconds


class NamedEndpoint(EndpointStats):
    """An endpoint's stats that know where its requests go out (`ok` is given the
    endpoint, not its name)."""

    __slots__ = ("out",)

    def __init__(self, out: Out) -> None:
        super().__init__()
        self.out = out


def success_line(
    out: Out, intended_unix: float, latency: float, status: int, size: int, warmup: bool
) -> str:
    """The JSON line of a success (`ok`'s path)."""
    return (
        f'{{"ts":{intended_unix:.6f},{out.head}"latency_ms":{latency * 1000.0:.3f},'
        f'"ok":true,"status":{status},"error":null,"bytes":{size},'
        f'"warmup":{"true" if warmup else "false"}}}\n'
    )


def result_line(out: Out, result: RequestResult, unix_offset: float, warmup: bool) -> str:
    """The JSON line of a RequestResult (`record`'s path: failures, and successes of
    engines other than the fast one)."""
    error = result.error
    latency = result.queued + result.latency
    return (
        f'{{"ts":{result.started - result.queued + unix_offset:.6f},{out.head}'
        f'"latency_ms":{latency * 1000.0:.3f},"ok":{"true" if error is None else "false"},'
        f'"status":{result.status or "null"},'
        f'"error":{"null" if error is None else chr(34) + error.value + chr(34)},'
        f'"bytes":{result.bytes_received},"warmup":{"true" if warmup else "false"}}}\n'
    )


class StreamedStats(ScenarioStats):
    """ScenarioStats that also write every request's JSON line through `write` (when
    given) and keep per-second figures per endpoint (when `per_second`).

    Pickled (from a worker) without its buffer and `write`: flush first. `pieces` names
    the finished parts of the lines (a worker's file), gathered by `merge` for whoever
    joins them."""

    def __init__(
        self, origin: float, warmup: float = 0.0, scheduled: bool = False, *,
        scenario: str = "", write: Write | None = None, per_second: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(origin, warmup, scheduled)
        self.scenario = scenario
        self.per_second = per_second
        self.unix_offset = time.time() - time.perf_counter()
        """Add to a perf_counter time for Unix time (the same clock in every process)."""
        self._write = write
        self._buffer: list[str] | None = [] if write is not None else None
        self._outs: dict[str, Out] = {}
        self.pieces: list[str] = []

    @classmethod
    def for_scenario(
        cls, scenario: Scenario, write: Write | None, per_second: bool
    ) -> StreamedStats:
        """Empty stats for a scenario's load (see ScenarioStats.for_load)."""
        load = scenario.load
        return cls(
            time.perf_counter(), load.warmup, scheduled=load.model is LoadModel.OPEN,
            scenario=scenario.name, write=write, per_second=per_second,
        )  # fmt: skip

    def out(self, name: str) -> Out:
        """Endpoint `name`'s Out, made on first use (warm-up requests have one too)."""
        out = self._outs.get(name)
        if out is None:
            seconds = EndpointSeconds(self.origin) if self.per_second else None
            out = self._outs[name] = Out(self.scenario, name, seconds)
        return out

    def endpoint(self, name: str) -> EndpointStats:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            endpoint = self._endpoints[name] = NamedEndpoint(self.out(name))
        return endpoint

    def rebase(self, origin: float) -> None:
        super().rebase(origin)
        for out in self._outs.values():
            if out.seconds is not None:
                out.seconds = EndpointSeconds(origin)

    def ok(
        self, endpoint: EndpointStats, started: float, finished: float, queued: float,
        size: int, sent: float, first: float, status: int,
    ) -> None:  # fmt: skip
        super().ok(endpoint, started, finished, queued, size, sent, first, status)
        out = cast(NamedEndpoint, endpoint).out
        latency = queued + finished - started
        if out.seconds is not None:
            out.seconds.add(finished, latency, True, size)
        buffer = self._buffer
        if buffer is not None:
            intended = started - queued
            buffer.append(
                success_line(
                    out,
                    intended + self.unix_offset,
                    latency,
                    status,
                    size,
                    intended < self.warmup_end,
                )
            )
            if len(buffer) >= FLUSH_LINES:
                self.flush()

    def record(self, result: RequestResult) -> None:
        super().record(result)
        out = self.out(result.endpoint)
        if out.seconds is not None:
            out.seconds.add(
                result.started + result.latency, result.queued + result.latency,
                result.error is None, result.bytes_received,
            )  # fmt: skip
        buffer = self._buffer
        if buffer is not None:
            warmup = result.started - result.queued < self.warmup_end
            buffer.append(result_line(out, result, self.unix_offset, warmup))
            if len(buffer) >= FLUSH_LINES:
                self.flush()

    def flush(self) -> None:
        """Write the buffered lines (whole lines, in one call)."""
        if self._buffer and self._write is not None:
            self._write("".join(self._buffer))
            self._buffer.clear()

    def detach(self) -> None:
        """Flush, and write no more lines (the file is being closed)."""
        self.flush()
        self._write = self._buffer = None

    def merge(self, other: ScenarioStats) -> None:
        super().merge(other)
        if isinstance(other, StreamedStats):
            for name, theirs in other._outs.items():
                mine = self.out(name).seconds
                if mine is not None and theirs.seconds is not None:
                    mine.merge(theirs.seconds)
            self.pieces.extend(other.pieces)

    def __getstate__(self) -> dict[str, object]:
        if self._buffer:
            raise RuntimeError("lines left unwritten: detach() before pickling")
        state = super().__getstate__()
        state["_write"] = state["_buffer"] = None
        return state

    def rows(self) -> Iterator[SecondRow]:
        """The CSV's rows: for each point of the timeline (a second, or 2**k seconds
        once the run is long), one per endpoint that completed a request in it, then
        the all-endpoints row (ALL_ENDPOINTS). Warm-up requests included, as in the
        report's timeline."""
        timeline = self.timeline
        span = timeline.span
        ends = {name: out.seconds for name, out in sorted(self._outs.items())
                if out.seconds is not None}  # fmt: skip
        by_endpoint = {name: seconds.timeline.seconds() for name, seconds in ends.items()}
        for first, point in timeline.seconds().items():
            total_bytes = 0
            for name, seconds in ends.items():
                mine = by_endpoint[name].get(first)
                size = seconds.bytes_in(first, span)
                total_bytes += size
                if mine is not None and mine.requests:
                    yield SecondRow.of(first, span, self.scenario, name, mine, size)
            yield SecondRow.of(first, span, self.scenario, ALL_ENDPOINTS, point, total_bytes)


@dataclass(frozen=True)
class SecondRow:
    """One CSV row: an endpoint's (or all endpoints') requests completed in `span`
    seconds from `second` (since the load's start)."""

    second: int
    span: int
    scenario: str
    endpoint: str
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    """Successful requests' latency percentiles (None when none succeeded)."""
    bytes: int

    @classmethod
    def of(
        cls, second: int, span: int, scenario: str, endpoint: str, point: Point, size: int
    ) -> SecondRow:
        p50, p95, p99 = point.percentiles_ms((50.0, 95.0, 99.0))
        return cls(second, span, scenario, endpoint, point.requests, point.errors,
                   p50, p95, p99, size)  # fmt: skip

    @property
    def rps(self) -> float:
        return self.requests / self.span

    def cells(self, origin_unix: float) -> tuple[object, ...]:
        """The row's CSV cells (CSV_HEADER's order); `origin_unix` is the load's start
        in Unix time, for the `time` column (ISO 8601, UTC)."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(origin_unix + self.second))
        return (
            self.second, when, self.scenario, self.endpoint, self.requests, self.errors,
            _number(self.rps), _number(self.p50_ms), _number(self.p95_ms),
            _number(self.p99_ms), self.bytes,
        )  # fmt: skip


def _number(value: float | None) -> str:
    """A figure as a CSV cell: 3 decimals at most, empty when there is none."""
    if value is None:
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".")
