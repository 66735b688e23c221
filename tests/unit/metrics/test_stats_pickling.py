"""ScenarioStats cross the pipe from a worker process to the parent by pickling: nothing
may be lost or re-sampled on the way. Pure: pickled and read back in one process."""

from __future__ import annotations

import pickle

from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats


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
