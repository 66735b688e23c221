"""Thresholds → verdicts. Pure: no I/O, no clocks, tested with tables.

A scenario's measurements are a flat mapping of metric name → value (None when it
could not be measured, e.g. target memory with no target process known).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from perfrun.scenario.model import Threshold

# YAML key -> (metric it reads, bound). The single table the loader validates against.
THRESHOLD_KEYS: Mapping[str, tuple[str, str]] = {
    "max_avg_response_ms": ("latency_avg_ms", "max"),
    "max_p50_response_ms": ("latency_p50_ms", "max"),
    "max_p75_response_ms": ("latency_p75_ms", "max"),
    "max_p90_response_ms": ("latency_p90_ms", "max"),
    "max_p95_response_ms": ("latency_p95_ms", "max"),
    "max_p99_response_ms": ("latency_p99_ms", "max"),
    "max_p999_response_ms": ("latency_p999_ms", "max"),
    "max_max_response_ms": ("latency_max_ms", "max"),
    "min_rps": ("rps", "min"),
    "min_success_rate": ("success_rate", "min"),
    "max_error_rate": ("error_rate", "max"),
    "max_cpu_percent": ("cpu_percent", "max"),
    "max_memory_mb": ("memory_mb", "max"),
}

PASS = "pass"
FAIL = "fail"
NOT_MEASURED = "not_measured"


@dataclass(frozen=True)
class Verdict:
    """One threshold judged. `passed` is False when the metric was not measured:
    a limit nobody could check must not pass silently."""

    key: str
    metric: str
    bound: str
    limit: float
    actual: float | None
    status: str
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASS


def threshold_from_key(key: str, limit: float) -> Threshold:
    """Build a Threshold from its YAML key; KeyError for an unknown key."""
    metric, bound = THRESHOLD_KEYS[key]
    return Threshold(key=key, metric=metric, bound=bound, limit=float(limit))


def judge(threshold: Threshold, actual: float | None, note: str = "") -> Verdict:
    """Judge one threshold against its measured value (None: not measured)."""
    if actual is None:
        status = NOT_MEASURED
    elif threshold.bound == "max":
        status = PASS if actual <= threshold.limit else FAIL
    else:
        status = PASS if actual >= threshold.limit else FAIL
    return Verdict(
        key=threshold.key,
        metric=threshold.metric,
        bound=threshold.bound,
        limit=threshold.limit,
        actual=actual,
        status=status,
        note=note,
    )


def evaluate(
    thresholds: tuple[Threshold, ...],
    measurements: Mapping[str, float | None],
    notes: Mapping[str, str] | None = None,
) -> tuple[Verdict, ...]:
    """Judge every threshold; `notes` explain per metric why a value is what it is."""
    notes = notes or {}
    return tuple(judge(t, measurements.get(t.metric), notes.get(t.metric, "")) for t in thresholds)
