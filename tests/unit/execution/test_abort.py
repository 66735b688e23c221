"""`abort: true` judged on the seconds completed so far, as the drive loop asks each second."""

from __future__ import annotations

from perfrun.execution.abort import AbortWatch
from perfrun.metrics.resources import Sample
from perfrun.metrics.result import RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import Threshold
from tests.support.factories import sample

ORIGIN = 1000.0
P95 = Threshold.from_key("max_p95_response_ms", 200, over=3, abort=True)


def stats_with(latencies: dict[int, float]) -> ScenarioStats:
    """One success per second, of the given latency (seconds), completing mid-second."""
    stats = ScenarioStats(ORIGIN)
    timeline = stats.timeline
    for second, latency in latencies.items():
        timeline.record(ORIGIN + second + 0.5, latency, True)
    return stats


def test_every_window_is_watched_but_only_abort_thresholds_stop_the_load() -> None:
    """A window threshold without abort is watched too (a long run's verdicts come from
    it), and never stops the load, however its windows fail."""
    plain = Threshold.from_key("max_p95_response_ms", 200, over=3)
    watch = AbortWatch((plain,), 0.0)
    assert watch and AbortWatch((P95,), 0.0)
    assert not AbortWatch((Threshold.from_key("max_p95_response_ms", 200),), 0.0)
    stats = stats_with({s: 0.5 for s in range(9)})  # every window fails
    assert watch.check(stats, ORIGIN + 6.05) is None and watch.aborted is None
    assert watch.live[plain.label].failed


def test_abort_fires_on_the_first_failing_window_of_completed_seconds() -> None:
    watch = AbortWatch((P95,), 0.0)
    stats = stats_with({s: 0.01 if s < 5 else 0.5 for s in range(9)})
    assert watch.check(stats, ORIGIN + 5.05) is None  # seconds 0-4: fast
    abort = watch.check(stats, ORIGIN + 6.05)
    assert abort is not None and abort is watch.aborted and abort.window is not None
    assert (abort.threshold, abort.window.start_s, abort.window.end_s) == (P95.label, 3, 6)
    assert abort.message.startswith("aborted at 6.0s by max_p95_response_ms: window 3s–6s: 50")
    assert abort.message.endswith(" ms")


def test_the_current_second_is_not_judged_before_it_ends() -> None:
    watch = AbortWatch((P95,), 0.0)
    stats = stats_with({0: 0.5, 1: 0.5, 2: 0.5})
    assert watch.check(stats, ORIGIN + 2.9) is None  # [0, 3) is not over yet
    assert watch.check(stats, ORIGIN + 3.0) is not None


def test_the_warmup_is_not_judged() -> None:
    watch = AbortWatch((P95,), warmup=2.0)
    stats = stats_with({0: 0.5, 1: 0.5, 2: 0.01, 3: 0.01, 4: 0.01})
    assert watch.check(stats, ORIGIN + 5.05) is None


def test_a_peak_aborts_without_a_window() -> None:
    slowest = Threshold.from_key("max_max_response_ms", 300, abort=True)
    watch = AbortWatch((slowest,), 0.0)
    stats = ScenarioStats(ORIGIN)
    stats.record(RequestResult("get", ORIGIN + 0.1, 0.1, 200, 10))
    assert watch.check(stats, ORIGIN + 0.5) is None
    stats.record(RequestResult("get", ORIGIN + 0.2, 0.4, 200, 10))
    abort = watch.check(stats, ORIGIN + 0.7)
    assert abort is not None and abort.window is None
    assert abort.message.startswith("aborted at 0.7s by max_max_response_ms: 40")


def test_a_resource_peak_reads_the_monitors_latest_sample() -> None:
    memory = Threshold.from_key("max_memory_mb", 800, abort=True)
    latest: list[Sample] = []
    watch = AbortWatch((memory,), 0.0, lambda: latest[-1] if latest else None)
    stats = ScenarioStats(ORIGIN)
    assert watch.check(stats, ORIGIN + 1) is None  # nothing sampled yet
    latest.append(sample(1.0, memory_mb=700))
    assert watch.check(stats, ORIGIN + 2) is None
    latest.append(sample(2.0, memory_mb=900))
    abort = watch.check(stats, ORIGIN + 3)
    assert abort is not None
    assert abort.message == "aborted at 3.0s by max_memory_mb: 900.0 MB"
