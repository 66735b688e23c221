"""The insight rules, each on crafted reports: when it fires, with what evidence, and when not."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from perfrun.judge.insights import (
    cpu_saturated,
    generator_saturated,
    insights,
    long_tail,
    memory_growth,
    refused_or_reset,
    throughput_plateau,
    timeouts,
)
from perfrun.report.model import ScenarioReport
from tests.support.factories import (
    counts,
    generator,
    latency,
    resources,
    sample,
    scenario_report,
    timeline,
)


def rules(report: ScenarioReport) -> list[str]:
    return [i.rule for i in insights(report)]


def test_a_healthy_scenario_has_no_insights() -> None:
    assert insights(scenario_report()) == ()


# --- long tail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p50", "p99", "fires"),
    [
        (10.0, 50.0, True),  # exactly 5x, 40 ms apart
        (10.0, 200.0, True),
        (10.0, 49.0, False),  # 4.9x
        (2.0, 11.0, False),  # 5.5x but only 9 ms apart
        (2.0, 12.0, True),  # 6x and 10 ms apart
        (0.0, 30.0, False),  # no meaningful median
        (None, 30.0, False),
    ],
)
def test_long_tail_needs_p99_five_times_p50_and_ten_ms_above(
    p50: float | None, p99: float, fires: bool
) -> None:
    report = scenario_report(latency_ms=latency(10.0, p99) | {"p50": p50})
    assert (long_tail(report) is not None) is fires


def test_long_tail_evidence_names_both_percentiles_and_the_ratio() -> None:
    found = long_tail(scenario_report(latency_ms=latency(4.0, 60.0)))
    assert found is not None
    assert found.evidence == {"p50_ms": 4.0, "p99_ms": 60.0, "ratio": 15.0}
    assert "15.0×" in found.message


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed", "errors", "expected"),
    [
        (100, {"timeout": 60, "http_5xx": 40}, ["timeouts"]),
        (100, {"timeout": 30, "connect_timeout": 20, "http_5xx": 50}, ["timeouts"]),
        (100, {"connect_refused": 70, "http_5xx": 30}, ["refused_or_reset"]),
        (100, {"reset": 30, "connect_refused": 30, "timeout": 40}, ["refused_or_reset"]),
        (100, {"timeout": 50, "reset": 50}, ["timeouts", "refused_or_reset"]),
        (100, {"http_5xx": 90, "timeout": 10}, []),  # 5xx dominate: no remark on the mix
        (9, {"timeout": 9}, []),  # 0.9 % of requests: too few errors
        (10, {"timeout": 10}, ["timeouts"]),  # 1 %
        (0, {}, []),
    ],
)
def test_errors_dominated_by_one_family_are_named(
    failed: int, errors: dict[str, int], expected: list[str]
) -> None:
    report = scenario_report(requests=counts(1000, failed), errors=errors)
    found = [i.rule for i in (timeouts(report), refused_or_reset(report)) if i is not None]
    assert found == expected


def test_timeouts_evidence_has_the_counts_and_the_share() -> None:
    report = scenario_report(
        requests=counts(1000, 200), errors={"timeout": 150, "connect_timeout": 10, "http_5xx": 40}
    )
    found = timeouts(report)
    assert found is not None
    assert found.evidence == {
        "timeout": 150,
        "connect_timeout": 10,
        "errors": 200,
        "requests": 1000,
        "share": 0.8,
    }
    assert found.message.startswith("80% of the 200 errors were timeouts")


def test_no_request_sent_is_not_an_error_insight() -> None:
    report = scenario_report(requests=counts(0, 0), errors={})
    assert timeouts(report) is None and refused_or_reset(report) is None


# --- CPU saturated ----------------------------------------------------------------------

RISING_P95 = [10.0, 11.0, 10.0, 14.0, 16.0, 18.0, 20.0, 22.0, 21.0]


@pytest.mark.parametrize(
    ("cpu_max", "p95", "fires"),
    [
        (97.0, RISING_P95, True),  # first third median 10, last third 21
        (90.0, RISING_P95, True),
        (89.9, RISING_P95, False),  # not saturated
        (180.0, [10.0] * 9, False),  # saturated but latency flat
        (97.0, [10.0, 10.0, 10.0, 12.0, 12.0, 12.0, 14.0, 14.0, 14.0], False),  # +40 %
        (97.0, [10.0, 15.0], False),  # too short to tell
        (None, RISING_P95, False),  # target CPU unknown
    ],
)
def test_cpu_saturated_needs_a_busy_target_and_rising_latency(
    cpu_max: float | None, p95: list[float], fires: bool
) -> None:
    report = scenario_report(
        resources=resources(cpu_max=cpu_max),
        timeline=timeline([100] * len(p95), p95=p95),
    )
    assert (cpu_saturated(report) is not None) is fires


def test_cpu_saturated_ignores_warmup_seconds() -> None:
    # Slow warm-up seconds (cold caches) must not make the measured part look flat or rising.
    p95 = [50.0, 50.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    report = scenario_report(
        resources=resources(cpu_max=99.0), timeline=timeline([100] * 8, p95=p95, warmup=2)
    )
    assert cpu_saturated(report) is None
    rising = [5.0, 5.0, 10.0, 10.0, 12.0, 13.0, 20.0, 21.0]
    report = scenario_report(
        resources=resources(cpu_max=99.0), timeline=timeline([100] * 8, p95=rising, warmup=2)
    )
    found = cpu_saturated(report)
    assert found is not None
    assert found.evidence == {
        "target_cpu_max_percent": 99.0,
        "p95_first_third_ms": 10.0,
        "p95_last_third_ms": 20.5,
    }


# --- memory growth ----------------------------------------------------------------------


def memory_report(memory: Sequence[float | None]) -> ScenarioReport:
    samples = [sample(t, m) for t, m in enumerate(memory, start=1)]
    return scenario_report(resources=resources(samples))


@pytest.mark.parametrize(
    ("memory", "fires"),
    [
        ([50, 52, 54, 56, 58, 60, 62, 64], True),  # +14 MB, +28 %, every step up
        ([50, 52, 51, 54, 56, 55, 58, 60], True),  # 5 of 7 steps up (71 %)
        ([50, 52, 51, 54, 53, 56, 55, 60], False),  # 4 of 7 steps up: a saw, not a trend
        ([50, 50, 50, 50, 50, 50, 50, 70], True),  # 6 flat steps count as not decreasing
        ([50, 51, 52, 53, 54, 54.5], False),  # +4.5 MB: too little
        ([400, 404, 408, 412, 416, 420], False),  # +20 MB but only +5 %
        ([50, 60, 70], False),  # too few samples
        ([60, 58, 56, 54, 52, 50], False),  # shrinking
        ([None, 50, 55, None, 60, 65], True),  # gaps are skipped
    ],
)
def test_memory_growth_needs_steady_growth_of_ten_percent_and_five_mb(
    memory: list[float | None], fires: bool
) -> None:
    assert (memory_growth(memory_report(memory)) is not None) is fires


def test_memory_growth_evidence_has_the_slope_per_minute() -> None:
    found = memory_growth(memory_report([100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110]))
    assert found is not None
    assert found.evidence == {
        "slope_mb_per_min": 60.0,  # 1 MB per one-second sample
        "first_mb": 100,
        "last_mb": 110,
        "rising_steps_share": 1.0,
    }


def test_memory_growth_needs_resources() -> None:
    assert memory_growth(scenario_report(resources=None)) is None


# --- generator saturated ----------------------------------------------------------------


def test_generator_saturated_repeats_the_reasons() -> None:
    reasons = ("event-loop lag p99 40.0 ms > 25 ms", "12 of 100 requests (12.0%) were sent late")
    found = generator_saturated(scenario_report(generator=generator(True, reasons)))
    assert found is not None
    assert found.evidence == {"reason_1": reasons[0], "reason_2": reasons[1]}
    assert "event-loop lag p99 40.0 ms" in found.message
    assert generator_saturated(scenario_report()) is None


# --- throughput plateau -----------------------------------------------------------------

USERS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


@pytest.mark.parametrize(
    ("requests", "target", "fires"),
    [
        # Throughput follows the users up to 40, then stays at ~400 while users reach 100.
        ([100, 200, 300, 400, 400, 405, 398, 402, 410, 400], USERS, True),
        ([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000], USERS, False),  # scales
        # Flattens only in the last second, when the users rose by less than 25 % after it.
        ([100, 200, 300, 400, 500, 600, 700, 800, 900, 950], USERS, False),
        ([400] * 10, [100] * 10, False),  # constant load: nothing to saturate
        ([100, 200, 300, 400, 400, 400], [10, 20, 30, 40, 44, 48], False),  # users rose <25 %
        ([400] * 10, None, False),  # plain closed model: no profile target
        ([0, 0, 0, 0, 0, 0], [10, 20, 30, 40, 50, 60], False),  # nothing completed at all
    ],
)
def test_throughput_plateau_needs_flat_requests_while_the_load_kept_rising(
    requests: list[int], target: list[float] | None, fires: bool
) -> None:
    report = scenario_report(timeline=timeline(requests, target=target))
    assert (throughput_plateau(report) is not None) is fires


def test_throughput_plateau_names_the_saturation_point() -> None:
    requests = [100, 200, 300, 400, 400, 405, 398, 402, 410, 400]
    found = throughput_plateau(scenario_report(timeline=timeline(requests, target=USERS)))
    assert found is not None
    assert found.evidence == {
        "at_second": 3,
        "load_at_plateau": 40,
        "load_peak": 100,
        "load_unit": "users",
        "plateau_rps": 400,
    }
    assert found.message.startswith(
        "throughput stopped growing at ~400 req/s when the load reached 40 users"
    )


def test_throughput_plateau_reads_rates_from_points_longer_than_a_second() -> None:
    # A long run: each point spans 4 s, so 1,600 completions are 400 req/s.
    requests = [400, 800, 1200, 1600, 1600, 1620, 1592, 1608, 1640, 1600]
    report = scenario_report(timeline=timeline(requests, target=USERS, span_s=4))
    found = throughput_plateau(report)
    assert found is not None
    assert found.evidence["plateau_rps"] == 400
    assert found.evidence["at_second"] == 12


def test_throughput_plateau_in_an_open_model_speaks_of_the_offered_rate() -> None:
    # A spike: the rate climbs to 500/s and comes back; the target tops out at ~300/s.
    rates = [100.0, 200.0, 300.0, 400.0, 500.0, 500.0, 100.0, 100.0]
    requests = [100, 200, 300, 310, 305, 300, 200, 100]
    report = scenario_report(
        load={"model": "open", "rate": None, "duration_s": 8.0},
        timeline=timeline(requests, target=rates),
    )
    found = throughput_plateau(report)
    assert found is not None
    assert found.evidence["load_at_plateau"] == 300.0
    assert found.evidence["load_peak"] == 500.0
    assert "300 req/s offered" in found.message


def test_insights_collects_every_rule_that_fires_in_a_stable_order() -> None:
    report = scenario_report(
        latency_ms=latency(5.0, 80.0),
        requests=counts(1000, 100),
        errors={"timeout": 100},
        generator=generator(True, ("perfrun used 95% of a CPU core",)),
    )
    assert rules(report) == ["long_tail", "timeouts", "generator_saturated"]
