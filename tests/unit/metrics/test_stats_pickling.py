"""ScenarioStats cross the pipe from a worker process to the parent by pickling: nothing
may be lost or re-sampled on the way. Pure: pickled and read back in one process."""

from __future__ import annotations

import pickle

from perfrun.metrics.histogram import LatencyHistogram, SparseHistogram
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import EndpointStats, ScenarioStats
from perfrun.metrics.streamed import NamedEndpoint, Out


def test_scenario_stats_survive_pickling_between_processes() -> None:
    stats = ScenarioStats(origin=10.0, warmup=0.5, scheduled=True)
    for i in range(300):
        error = ErrorKind.HTTP_5XX if i % 7 == 0 else None
        stats.record(
            RequestResult("a", 10.0 + i * 0.01, 0.002 + i * 1e-5, 200, 5, error, "x", 0.001)
        )
    back = pickle.loads(pickle.dumps(stats))
    assert back.overall.total == stats.overall.total
    assert back.warmup.total == stats.warmup.total
    assert back.overall.latency.summary_ms() == stats.overall.latency.summary_ms()
    assert back.service.summary_ms() == stats.service.summary_ms()
    assert {t: s.requests for t, s in back.timeline.seconds().items()} == {
        t: s.requests for t, s in stats.timeline.seconds().items()
    }


def test_the_pickled_state_names_every_attribute_in_either_build() -> None:
    """Compiled (setup.py) or interpreted, an endpoint pickles as one dict of its
    attributes: a worker installed as plain Python can send its figures to a compiled
    parent, and the other way round (found by review: the two builds' default states
    differed, and neither could read the other's)."""
    endpoint = EndpointStats()
    endpoint.succeeded = 3
    for kept in (endpoint, endpoint.phases):
        state = kept.__reduce_ex__(4)[2]
        assert isinstance(state, dict)
    assert set(endpoint.__reduce_ex__(4)[2]) == {
        "bytes_received", "errors", "failed", "failed_checks", "failed_latency", "latency",
        "phases", "redirects", "succeeded",
    }  # fmt: skip
    assert set(endpoint.phases.__reduce_ex__(4)[2]) == {"connect", "receive", "wait"}
    assert pickle.loads(pickle.dumps(endpoint)).succeeded == 3


def test_histograms_pickle_one_state_in_either_build() -> None:
    """The histograms are compiled too (setup.py): each pickles a state of plain values,
    the same whichever build made it."""
    dense, sparse = LatencyHistogram(), SparseHistogram()
    for seconds in (0.0005, 0.003, 0.003, 2.5):
        dense.record(seconds)
        sparse.record(seconds)
    assert dense.__reduce_ex__(4)[2] == dense.encode()
    assert sparse.__reduce_ex__(4)[2] == (sparse.counts, 4, sparse.sum_us)
    for histogram in (dense, sparse):
        back = pickle.loads(pickle.dumps(histogram))
        assert (back.total, back.sum_us) == (histogram.total, histogram.sum_us)
        assert back.summary_ms() == histogram.summary_ms()


def test_a_subclass_keeps_its_own_attributes_across_pickling() -> None:
    """NamedEndpoint (plain Python, subclassing a class that may be compiled) adds a
    slot: it is pickled too."""
    named = NamedEndpoint(Out("s", "e", None))
    back = pickle.loads(pickle.dumps(named))
    assert back.out.head == named.out.head
    assert set(back.__reduce_ex__(4)[2]) >= {"out", "succeeded", "phases"}
