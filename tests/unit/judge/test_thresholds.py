"""Thresholds → verdicts, as tables."""

from __future__ import annotations

import pytest

from perfrun.judge.thresholds import evaluate, judge
from perfrun.report.model import VerdictStatus
from perfrun.scenario.metrics import BY_THRESHOLD, METRICS, Bound
from perfrun.scenario.model import Threshold

PASS, FAIL, NOT_MEASURED = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_MEASURED
threshold_from_key = Threshold.from_key


@pytest.mark.parametrize(
    ("key", "limit", "actual", "status"),
    [
        ("max_avg_response_ms", 100, 99.9, PASS),
        ("max_avg_response_ms", 100, 100.0, PASS),
        ("max_avg_response_ms", 100, 100.1, FAIL),
        ("max_p99_response_ms", 50, 51, FAIL),
        ("min_rps", 10, 10.0, PASS),
        ("min_rps", 10, 9.99, FAIL),
        ("min_success_rate", 95, 95.0, PASS),
        ("min_success_rate", 95, 94.9, FAIL),
        ("max_error_rate", 5, 0.0, PASS),
        ("max_error_rate", 5, 5.1, FAIL),
        ("max_cpu_percent", 70, 69, PASS),
        ("max_memory_mb", 200, 250, FAIL),
        ("max_memory_mb", 200, None, NOT_MEASURED),
        ("min_rps", 10, None, NOT_MEASURED),
    ],
)
def test_judge_compares_against_the_bound(
    key: str, limit: float, actual: float | None, status: VerdictStatus
) -> None:
    verdict = judge(threshold_from_key(key, limit), actual)
    assert verdict.status == status
    assert verdict.passed is (status == PASS)
    assert verdict.actual == actual
    assert verdict.limit == limit


def test_unmeasured_threshold_does_not_pass_silently() -> None:
    (verdict,) = evaluate((threshold_from_key("max_memory_mb", 100),), {}, {"memory_mb": "why"})
    assert verdict.status == NOT_MEASURED
    assert not verdict.passed
    assert verdict.note == "why"


def test_every_threshold_key_names_its_bound_and_reads_a_registered_metric() -> None:
    for key, metric in BY_THRESHOLD.items():
        threshold = Threshold.from_key(key, 1)
        assert key.startswith(f"{threshold.bound}_")
        assert threshold.metric == metric.name
        assert threshold.bound is (Bound.MAX if metric.higher_is_worse else Bound.MIN)


def test_metric_names_and_yaml_keys_are_unique() -> None:
    for names in (
        [m.name for m in METRICS],
        [m.threshold for m in METRICS if m.threshold],
        [m.regression for m in METRICS if m.regression],
    ):
        assert len(names) == len(set(names))


def test_evaluate_keeps_order_and_reads_each_metric() -> None:
    thresholds = (
        threshold_from_key("min_rps", 100),
        threshold_from_key("max_p95_response_ms", 20),
    )
    verdicts = evaluate(thresholds, {"rps": 150.0, "latency_p95_ms": 25.0})
    assert [(v.key, v.status) for v in verdicts] == [
        ("min_rps", PASS),
        ("max_p95_response_ms", FAIL),
    ]


WARN = VerdictStatus.WARN


@pytest.mark.parametrize(
    ("key", "limit", "warn", "actual", "status"),
    [
        ("max_avg_response_ms", 5000, 1000, 999, PASS),
        ("max_avg_response_ms", 5000, 1000, 1000, PASS),
        ("max_avg_response_ms", 5000, 1000, 1000.1, WARN),
        ("max_avg_response_ms", 5000, 1000, 5000, WARN),
        ("max_avg_response_ms", 5000, 1000, 5000.1, FAIL),
        ("min_rps", 10, 50, 60, PASS),
        ("min_rps", 10, 50, 49, WARN),
        ("min_rps", 10, 50, 9, FAIL),
        ("min_success_rate", 90, 99, None, NOT_MEASURED),
    ],
)
def test_a_warn_level_between_pass_and_limit_warns(
    key: str, limit: float, warn: float, actual: float | None, status: VerdictStatus
) -> None:
    verdict = judge(threshold_from_key(key, limit, warn=warn), actual)
    assert verdict.status == status
    assert verdict.warn == warn
    assert verdict.passed is (status in (PASS, WARN))
    assert verdict.warned is (status == WARN)


def test_per_request_thresholds_read_their_requests_figures() -> None:
    thresholds = (
        threshold_from_key("max_p95_response_ms", 300, request="login"),
        threshold_from_key("max_p95_response_ms", 300, request="items"),
        threshold_from_key("max_p95_response_ms", 300),
    )
    overall = {"latency_p95_ms": 250.0}
    requests = {"login": {"latency_p95_ms": 400.0}, "items": {"latency_p95_ms": 100.0}}
    verdicts = evaluate(thresholds, overall, requests=requests)
    assert [(v.key, v.actual, v.status) for v in verdicts] == [
        ("per_request.login.max_p95_response_ms", 400.0, FAIL),
        ("per_request.items.max_p95_response_ms", 100.0, PASS),
        ("max_p95_response_ms", 250.0, PASS),
    ]


def test_per_request_threshold_of_a_request_never_sent_is_not_measured() -> None:
    (verdict,) = evaluate((threshold_from_key("min_rps", 1, request="login"),), {}, requests={})
    assert verdict.status == NOT_MEASURED
