"""The timeline: requests, errors and latency of the requests completed in each span of time.

Memory is bounded whatever the run's length:

* A point counts its latencies sparsely, {HdrHistogram counts index: count}, in the same
  buckets as LatencyHistogram (3 significant digits), so its percentiles are the ones a
  full histogram gives. A full HdrHistogram per second was ~190 kB of counts, allocated
  every second and freed only by the cyclic GC (the library's histogram and encoder refer
  to each other), so dead ones piled up and RSS kept growing (issue 9).
* Once its time is over, a point's counts are packed: sorted index deltas and counts,
  compressed (a few hundred bytes for a second of 2,000 requests).
* At most MAX_POINTS points are kept. A point spans 2**k seconds: one second until the
  run reaches MAX_POINTS seconds (34 minutes), then neighbouring points merge pairwise
  and the span doubles (2 s up to 68 minutes, 4 s up to 2.3 hours, … 64 s for 36 hours).
  Merging counts is exact, so a coarse point's percentiles are those of all its requests.
  The pairs merge a few at each new point rather than all at once: merging 2,048 points
  takes ~1 s, which would stall the event loop and the open model's schedule.

Beside the completions, a timeline keeps what is sampled once a second rather than
counted per request (`sample`, called by the load's loop at each second's end): the bytes
received in the second, and the requests in flight at its end. Their `Gauge`s coarsen
with the points; the hot path never touches them.

Timelines merge losslessly (other workers' timelines, with the same origin): the finer
one is first coarsened to the other's span.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Mapping, Sequence
from itertools import pairwise

from perfrun.metrics.histogram import LatencyHistogram, counts_index, sparse_percentiles_ms

MAX_POINTS = 2048
"""Points kept at most; beyond, neighbouring points merge and a point spans twice as long."""
_COUNT_TYPES = ("B", "H", "I", "Q")


class Point:
    """One span of the timeline; its latency counts are of successful requests only."""

    __slots__ = ("_open", "_packed", "errors", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self._packed = b""
        """Counts packed once the span is over (see `pack`)."""
        self._open: dict[int, int] | None = None
        """Counts while requests may still be recorded into this span."""

    def counts(self) -> dict[int, int]:
        """{counts index: count} of the latencies (a copy)."""
        counts = _unpack(self._packed)
        for index, count in (self._open or {}).items():
            counts[index] = counts.get(index, 0) + count
        return counts

    def opened(self) -> dict[int, int]:
        """The live counts, unpacked if needed, for recording into."""
        if self._open is None:
            self._open = _unpack(self._packed)
            self._packed = b""
        return self._open

    def pack(self) -> None:
        if self._open is not None:
            self._packed = _pack(self._open)
            self._open = None

    def merge(self, other: Point) -> None:
        """Add another point's counts; an open point stays open (it is being recorded
        into), a packed one stays packed."""
        was_open = self._open is not None
        self.requests += other.requests
        self.errors += other.errors
        live = self.opened()
        for index, count in other.counts().items():
            live[index] = live.get(index, 0) + count
        if not was_open:
            self.pack()

    def percentiles_ms(self, percentiles: Sequence[float]) -> list[float | None]:
        """Latency percentiles of the span's successful requests (None when none)."""
        return sparse_percentiles_ms(self.counts(), percentiles)

    def histogram(self) -> LatencyHistogram:
        """The span's latencies as a histogram (the average from bucket lower bounds)."""
        return LatencyHistogram.from_counts(self.counts())

    def __getstate__(self) -> tuple[int, int, bytes]:
        """Pickled packed, so that a timeline crosses between processes compactly."""
        self.pack()
        return (self.requests, self.errors, self._packed)

    def __setstate__(self, state: tuple[int, int, bytes]) -> None:
        self.requests, self.errors, self._packed = state
        self._open = None


class Gauge:
    """What was sampled over one span of the timeline (see `Timeline.sample`)."""

    __slots__ = ("in_flight", "received", "sampled")

    def __init__(self, received: int = 0, in_flight: int = 0, sampled: int = 0) -> None:
        self.received = received
        """Bytes received (response bodies) in the span."""
        self.in_flight = in_flight
        """The requests in flight at the end of each sampled second, summed over them."""
        self.sampled = sampled
        """Seconds whose in-flight count was sampled."""

    @property
    def mean_in_flight(self) -> float | None:
        """Requests in flight at a second's end, on average over the span (None when
        none was sampled)."""
        return self.in_flight / self.sampled if self.sampled else None

    def follow(self, later: Gauge) -> None:
        """Add the next span in time (coarsening): everything adds up."""
        self.received += later.received
        self.in_flight += later.in_flight
        self.sampled += later.sampled

    def beside(self, other: Gauge) -> None:
        """Add another worker's gauge of the same span: its requests add up; it sampled
        the same seconds (a worker that ended early sampled fewer)."""
        self.received += other.received
        self.in_flight += other.in_flight
        self.sampled = max(self.sampled, other.sampled)

    def __getstate__(self) -> tuple[int, int, int]:
        return (self.received, self.in_flight, self.sampled)

    def __setstate__(self, state: tuple[int, int, int]) -> None:
        self.received, self.in_flight, self.sampled = state


class Timeline:
    """Buckets completions by time since `origin` (a perf_counter time) into at most
    `max_points` points of `span` seconds each (1, then doubling as the run gets long)."""

    def __init__(self, origin: float, max_points: int = MAX_POINTS) -> None:
        if max_points < 2 or max_points % 2:
            raise ValueError("a timeline keeps an even number of points, at least 2")
        self.origin = origin
        self.max_points = max_points
        self._shift = 0
        """A point spans 2 ** _shift seconds."""
        self._points: dict[int, Point] = {}
        self._halves: dict[int, Point] = {}
        """Points of the previous span (2 ** (_shift - 1) s) still to merge pairwise into
        `_points`: a few at each new point, so that no single record pays for all."""
        self._slot = -1
        """The point being recorded into; `_live` is its open counts."""
        self._live: dict[int, int] = {}
        self._newest = -1
        """The newest slot seen: older ones are packed when a newer one opens."""
        self._point = Point()
        """The point being recorded into (a placeholder before the first record)."""
        self._lo = self._hi = -1.0
        """perf_counter bounds of the current second: a record inside needs no lookup."""
        self._second = -1
        self._in_second = 0
        self._in_previous = 0
        """Completions in the newest second seen and the one before, for live progress
        once a point spans more than a second."""
        self._gauges: dict[int, Gauge] = {}
        """By slot, at the points' span: what `sample` took (see Gauge)."""
        self._received = 0
        """The bytes received in total at the last `sample`."""

    def shift_clock(self, delta: float) -> None:
        """Move the origin by `delta` (see `ScenarioStats.shift_clock`)."""
        self.origin += delta
        self._lo = self._hi = -1.0

    @property
    def span(self) -> int:
        """Seconds each point covers."""
        return 1 << self._shift

    def record(self, finished: float, latency: float, ok: bool) -> None:
        if ok:
            self.success(finished, counts_index(latency))
        else:
            self.failure(finished)

    def success(self, finished: float, index: int) -> None:
        """A successful request completed at `finished` (a perf_counter time), its latency
        at a LatencyHistogram counts `index`. The hot path: within the current second it
        is a comparison and three increments."""
        if self._lo <= finished < self._hi:
            self._in_second += 1
        else:
            self._enter(finished)
        self._point.requests += 1
        live = self._live
        live[index] = live.get(index, 0) + 1

    @property
    def current(self) -> tuple[float, float]:
        """perf_counter bounds [start, end) of the second completions are counted into
        now, or (-1, -1) when there is none: completions inside it can be counted later,
        in bulk, by `successes`, as long as nothing else is recorded in between."""
        return self._lo, self._hi

    def successes(self, requests: int, counts: Mapping[int, int]) -> None:
        """`requests` successful requests completed in the `current` second, their
        latencies at {counts index: count}: what as many `success` calls record."""
        if self._hi < 0:
            raise RuntimeError("no current second to count successes into")
        self._in_second += requests
        self._point.requests += requests
        live = self._live
        for index, count in counts.items():
            live[index] = live.get(index, 0) + count

    def failure(self, finished: float) -> None:
        """A failed request completed at `finished`."""
        if self._lo <= finished < self._hi:
            self._in_second += 1
        else:
            self._enter(finished)
        point = self._point
        point.requests += 1
        point.errors += 1

    def _enter(self, finished: float) -> None:
        """Count a completion at `finished` in its second, and record into its point."""
        second = int(finished - self.origin)
        if second < 0:
            second = 0
        self._count_second(second)
        slot = second >> self._shift
        if slot != self._slot:
            self._switch(slot)
        self._point = self._points[self._slot]
        if second == self._second:
            self._lo = self.origin + second
            self._hi = self._lo + 1.0
        else:  # a straggler from an older second: counted once, the current one kept
            self._lo = self._hi = -1.0

    def _count_second(self, second: int) -> None:
        if second > self._second:
            self._in_previous = self._in_second if second == self._second + 1 else 0
            self._second, self._in_second = second, 1
        elif second == self._second:
            self._in_second += 1
        elif second == self._second - 1:
            self._in_previous += 1

    def _switch(self, slot: int) -> None:
        """Record into `slot` from now on: pack what is over, coarsen when too long."""
        if slot >= self.max_points:
            self._settle()
            while slot >> 1 >= self.max_points:  # a long gap: no time to spread the work
                self._coarsen()
                slot >>= 1
            self._halves, self._points = self._points, {}
            self._shift += 1
            self._coarsen_gauges()
            self._newest >>= 1
            slot >>= 1
        # Completions arrive almost in order: the newest slot and the one before stay open
        # (for stragglers); the others are packed, and so is a straggler's when left.
        newest = max(self._newest, slot)
        for old in {self._slot, self._newest - 1, self._newest}:
            if old < newest - 1 and old in self._points:
                self._points[old].pack()
        if slot > self._newest:
            self._merge_halves(4)
        self._newest = newest
        point = self._points.get(slot)
        if point is None:
            point = self._points[slot] = Point()
        self._slot = slot
        self._live = point.opened()

    def _merge_halves(self, pairs: int | None) -> None:
        """Merge up to `pairs` pairs of `_halves` (all when None) into `_points`."""
        while self._halves and (pairs is None or pairs > 0):
            half = min(self._halves)
            slot = half >> 1
            for part in (slot << 1, (slot << 1) + 1):
                point = self._halves.pop(part, None)
                if point is None:
                    continue
                mine = self._points.get(slot)
                if mine is None:
                    self._points[slot] = point
                else:
                    mine.merge(point)
            if pairs is not None:
                pairs -= 1

    def _settle(self) -> None:
        """Every point packed and at the current span (no halves left)."""
        self._merge_halves(None)
        for point in self._points.values():
            point.pack()
        self._slot = -1
        self._live = {}
        self._lo = self._hi = -1.0

    def _coarsen(self) -> None:
        """Double the span at once: merge neighbouring points pairwise."""
        self._settle()
        self._halves, self._points = self._points, {}
        self._shift += 1
        self._coarsen_gauges()
        self._newest >>= 1
        self._merge_halves(None)

    def _coarsen_gauges(self) -> None:
        """The gauges at the doubled span: neighbours merged pairwise, all at once (a
        gauge is three integers, not a point's counts)."""
        self._gauges = _coarsened(self._gauges, 1)

    def sample(self, second: int | None, received: int, in_flight: int | None) -> None:
        """What the load's loop samples at the end of `second` (seconds since the origin;
        None: the second of the newest completion, for the sample taken when the load
        ends): `received`, the bytes received since the load started, whose increase
        since the last sample the second received; `in_flight`, the requests in flight
        now (None when not known, or not the end of a whole second)."""
        if second is None:
            second = max(self._second, 0)
        gauge = self._gauges.get(second >> self._shift)
        if gauge is None:
            gauge = self._gauges[second >> self._shift] = Gauge()
        gauge.received += received - self._received
        self._received = received
        if in_flight is not None:
            gauge.in_flight += in_flight
            gauge.sampled += 1

    def gauges(self) -> dict[int, Gauge]:
        """Every sampled span's gauge, by its first second (see `seconds`)."""
        return dict(sorted((slot << self._shift, gauge) for slot, gauge in self._gauges.items()))

    def seconds(self) -> dict[int, Point]:
        """Every point that saw a completion, by its first second (the live one included);
        each covers `span` seconds."""
        self._merge_halves(None)
        return dict(sorted((slot << self._shift, point) for slot, point in self._points.items()))

    def requests_in(self, second: int) -> int:
        """Completions in one second (0 when none), e.g. the last full second's rate."""
        if self._shift == 0:
            point = self._points.get(second)
            return point.requests if point else 0
        if second == self._second:
            return self._in_second
        return self._in_previous if second == self._second - 1 else 0

    def merge(self, other: Timeline) -> None:
        """Add another timeline with the same origin (e.g. from another worker)."""
        self._settle()
        other._settle()
        while self._shift < other._shift:
            self._coarsen()
        extra = self._shift - other._shift
        for slot, theirs in other._points.items():
            mine = self._points.get(slot >> extra)
            if mine is None:
                mine = self._points[slot >> extra] = Point()
            mine.merge(theirs)
        self._newest = max(self._points, default=-1)
        while self._newest >= self.max_points:
            self._coarsen()
        for slot, gauge in _coarsened(other._gauges, self._shift - other._shift).items():
            held = self._gauges.get(slot)
            if held is None:
                self._gauges[slot] = gauge
            else:
                held.beside(gauge)
        if other._second == self._second:
            self._in_second += other._in_second
            self._in_previous += other._in_previous
        elif other._second > self._second:
            self._second = other._second
            self._in_second, self._in_previous = other._in_second, other._in_previous

    def __getstate__(self) -> dict[str, object]:
        """Pickled settled, every point packed (see Point.__getstate__)."""
        self._settle()
        return self.__dict__.copy()


def _coarsened(gauges: Mapping[int, Gauge], shift: int) -> dict[int, Gauge]:
    """`gauges` by slot at a span 2 ** `shift` times as long (new Gauges: no input is
    changed)."""
    out: dict[int, Gauge] = {}
    for slot in sorted(gauges):
        mine = out.get(slot >> shift)
        if mine is None:
            mine = out[slot >> shift] = Gauge()
        mine.follow(gauges[slot])
    return out


def _pack(counts: Mapping[int, int]) -> bytes:
    """The counts' array type, sorted index deltas (2 bytes: the layout has ~23,000
    indices), then the counts in the narrowest array type that holds them, compressed:
    ~0.75 bytes a bucket for a second of requests."""
    if not counts:
        return b""
    indices = sorted(counts)
    deltas = array("H", [indices[0]] + [b - a for a, b in pairwise(indices)])
    values = [counts[i] for i in indices]
    top = max(values)
    code = next(c for c in _COUNT_TYPES if top < 1 << (8 * array(c).itemsize))
    # A 4 kB window and a small hash: ~70 kB of working memory instead of zlib's default
    # ~350 kB, every second, for the same size on payloads of a few kB.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 12, 5)
    payload = deltas.tobytes() + array(code, values).tobytes()
    return code.encode("ascii") + compressor.compress(payload) + compressor.flush()


def _unpack(packed: bytes) -> dict[int, int]:
    if not packed:
        return {}
    code = chr(packed[0])
    raw = zlib.decompress(packed[1:])
    n = len(raw) // (2 + array(code).itemsize)
    deltas, values = array("H"), array(code)
    deltas.frombytes(raw[: 2 * n])
    values.frombytes(raw[2 * n :])
    counts: dict[int, int] = {}
    index = 0
    for delta, count in zip(deltas, values, strict=True):
        index += delta
        counts[index] = count
    return counts
