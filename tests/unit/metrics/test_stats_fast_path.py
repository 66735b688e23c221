"""ScenarioStats.ok (the fast engine's hot path, which records most successes at once
but hands them to the timeline later) must leave exactly the figures `record` leaves
for the same requests: per endpoint, in the warm-up, on the timeline, the window, after
pickling, and whenever the figures are read in between. Pure: no clock, no I/O."""

from __future__ import annotations

import pickle
import random

import pytest

from perfrun.metrics.histogram import HIGHEST_US
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats

ORIGIN = 1000.0
TICK = 2.0**-20
"""Every time is a multiple of this (~0.95 µs), so that sums and differences are exact
and both paths round the same values to whole µs."""


def _grid(seconds: float) -> float:
    return round(seconds / TICK) * TICK


def _requests(seed: int, n: int) -> list[RequestResult]:
    """Completions in (nearly) the order they end: successes and failures on two
    endpoints over ~4 s, with a warm-up's worth at the start, latencies from 0 to past
    the histogram's top, and stragglers that end in an earlier second than the one
    before them."""
    rng = random.Random(seed)
    out: list[RequestResult] = []
    finished = ORIGIN
    for i in range(n):
        finished = _grid(finished + rng.expovariate(1000.0))
        latency = _grid(rng.choice((0.0, 2e-6, rng.uniform(1e-4, 0.05), HIGHEST_US / 1e6 + 5)))
        wait = _grid(latency * rng.random())
        # Every 97th is a straggler: it ended before the previous second began (never
        # after the others: a straggler ending an hour on would leave them all behind).
        end = _grid(max(finished - 1.2, ORIGIN)) if i % 97 == 0 else finished
        started = end - latency
        queued = _grid(rng.choice((0.0, rng.uniform(0.0, 0.01))))
        error = rng.choice((None, None, None, ErrorKind.TIMEOUT))
        endpoint = rng.choice(("a", "b"))
        size = rng.randrange(0, 5000)
        connect = _grid(rng.uniform(0.0, 0.001)) if i % 13 == 0 else None
        phases = (None, None) if error else (wait, latency - wait)
        out.append(
            RequestResult(
                endpoint, started, latency, 200, size, error, "x", queued, (), connect, *phases
            )
        )
    return out


def _figures(stats: ScenarioStats) -> dict[str, object]:
    points = {t: (p.requests, p.errors, p.counts()) for t, p in stats.timeline.seconds().items()}
    endpoints = {
        name: (
            e.succeeded, e.failed, e.bytes_received, dict(e.errors),
            e.latency.counts, e.latency.total, e.latency.sum_us, e.failed_latency.total,
            *(
                (h.counts, h.total, h.sum_us)
                for h in (e.phases.connect, e.phases.wait, e.phases.receive)
            ),
        )
        for name, e in stats.endpoints.items()
    }  # fmt: skip
    warmup = stats.warmup
    return {
        "endpoints": endpoints,
        "warmup": (warmup.succeeded, warmup.failed, warmup.bytes_received, warmup.latency.counts),
        "timeline": points,
        "window": (stats.first_start, stats.last_end),
        "service": tuple((h.counts, h.total, h.sum_us) for h in (stats.service, stats.send_delay)),
    }


def _phases(i: int) -> tuple[float, float]:
    """Written and first-byte times of request i of the tests below."""
    return ORIGIN + i * 0.001, ORIGIN + i * 0.001 + 0.0015


@pytest.mark.parametrize("scheduled", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ok_leaves_the_figures_record_leaves(seed: int, scheduled: bool) -> None:
    requests = _requests(seed, 4000)
    by_record = ScenarioStats(ORIGIN, warmup=0.5, scheduled=scheduled)
    by_ok = ScenarioStats(ORIGIN, warmup=0.5, scheduled=scheduled)
    reads = random.Random(seed)
    on_hold = 0
    for result in requests:
        by_record.record(result)
        if result.error is None:
            started = result.started
            finished = started + result.latency
            endpoint = by_ok.endpoint(result.endpoint)
            if result.connect is not None:  # the callback form: the connect comes first
                by_ok.connected(endpoint, result.intended, result.connect)
            assert result.wait is not None
            first = started + result.wait
            before = by_ok.on_hold
            by_ok.ok(endpoint, started, finished, result.queued, result.bytes_received,
                     started, first, result.status)  # fmt: skip
            on_hold += by_ok.on_hold > before
        else:
            by_ok.record(result)
        if reads.random() < 0.01:  # progress reads the figures mid-second
            by_ok.live()
    # Most successes took the fast path (held for the timeline), so it is what is compared.
    assert on_hold > sum(r.error is None for r in requests) / 2
    assert _figures(by_ok) == _figures(by_record)
    assert _figures(pickle.loads(pickle.dumps(by_ok))) == _figures(by_record)


def test_successes_on_hold_are_counted_before_a_merge_and_a_pickle() -> None:
    stats = ScenarioStats(ORIGIN)
    endpoint = stats.endpoint("a")
    for i in range(1, 101):  # one second: after the first, all take the fast path
        stats.ok(
            endpoint, ORIGIN + i * 0.001, ORIGIN + i * 0.001 + 0.002, 0.0, 10, *_phases(i), 200
        )
    assert stats.on_hold, "the fast path was not taken"
    assert stats.first_start == ORIGIN + 0.001
    assert stats.last_end == ORIGIN + 0.102
    merged = ScenarioStats(ORIGIN)
    merged.merge(pickle.loads(pickle.dumps(stats)))
    merged.merge(stats)
    assert merged.overall.succeeded == 200
    assert merged.overall.bytes_received == 2000
    assert merged.timeline.requests_in(0) == 200


def test_recording_goes_on_after_a_merge() -> None:
    stats = ScenarioStats(ORIGIN)
    other = ScenarioStats(ORIGIN)
    endpoint = stats.endpoint("a")
    for i in range(1, 51):
        stats.ok(endpoint, ORIGIN + i * 0.001, ORIGIN + i * 0.001 + 0.002, 0.0, 1, *_phases(i), 200)
        other.ok(
            other.endpoint("a"),
            ORIGIN + i * 0.001,
            ORIGIN + i * 0.001 + 0.002,
            0.0,
            1,
            *_phases(i),
            200,
        )
    stats.merge(other)
    for i in range(51, 101):
        stats.ok(endpoint, ORIGIN + i * 0.001, ORIGIN + i * 0.001 + 0.002, 0.0, 1, *_phases(i), 200)
    assert stats.overall.succeeded == 150
    assert stats.timeline.requests_in(0) == 150


def test_recording_goes_on_after_a_pickle_or_being_merged() -> None:
    """Pickling, or being merged into other stats, settles a timeline: successes that
    follow in the same second are still counted, in the pickled copy too."""
    for settle in ("pickle", "merged"):
        stats = ScenarioStats(ORIGIN)
        endpoint = stats.endpoint("a")
        for i in range(1, 4):
            stats.ok(
                endpoint, ORIGIN + i * 0.001, ORIGIN + i * 0.001 + 0.002, 0.0, 1, *_phases(i), 200
            )
        if settle == "pickle":
            copy = pickle.loads(pickle.dumps(stats))
            copy.ok(copy.endpoint("a"), ORIGIN + 0.01, ORIGIN + 0.012, 0.0, 1, *_phases(10), 200)
            assert copy.overall.succeeded == 4
            assert copy.timeline.requests_in(0) == 4
        else:
            ScenarioStats(ORIGIN).merge(stats)
        for i in range(4, 6):
            stats.ok(
                endpoint, ORIGIN + i * 0.001, ORIGIN + i * 0.001 + 0.002, 0.0, 1, *_phases(i), 200
            )
        assert stats.overall.succeeded == 5, settle
        assert stats.timeline.requests_in(0) == 5, settle


def test_an_open_models_send_delay_and_service_read_first_count_every_success() -> None:
    """The open model's successes on the fast path carry their send delay and service
    time: reading either histogram, before anything else, finds them all."""
    for read in ("send_delay", "service"):
        stats = ScenarioStats(ORIGIN, scheduled=True)
        endpoint = stats.endpoint("a")
        for i in range(1, 51):
            started = ORIGIN + i * 0.001
            stats.ok(endpoint, started, started + 0.002, 0.0005, 1, started, started + 0.001, 200)
        assert stats.on_hold  # most took the fast path
        histogram = getattr(stats, read)
        assert histogram.total == 50, read


@pytest.mark.parametrize("scheduled", [False, True])
def test_a_second_of_successes_leaves_the_figures_record_leaves(scheduled: bool) -> None:
    """Thousands of successes in one second, spread over the histogram's buckets, read
    mid-second too."""
    rng = random.Random(5)
    by_record = ScenarioStats(ORIGIN, scheduled=scheduled)
    by_ok = ScenarioStats(ORIGIN, scheduled=scheduled)
    endpoint = by_ok.endpoint("a")
    for i in range(3000):
        started = _grid(ORIGIN + 0.1 + i * 0.8 / 3000)
        latency = _grid(rng.uniform(1e-4, 0.004))
        wait = _grid(latency * rng.random())
        queued = _grid(rng.uniform(0.0, 0.002)) if scheduled else 0.0
        result = RequestResult("a", started, latency, 200, 10, None, "", queued, (), None,
                               wait, latency - wait)  # fmt: skip
        by_record.record(result)
        by_ok.ok(endpoint, started, started + latency, queued, 10, started, started + wait, 200)
        if i == 2003:
            assert by_ok.on_hold == 2003  # all but the first, which opened the second
            assert _figures(by_ok) == _figures(by_record)  # a read mid-second
            assert by_ok.on_hold == 0
    assert _figures(by_ok) == _figures(by_record)
