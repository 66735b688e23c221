"""The metric registry: every figure a scenario can set a threshold on or compare with a
baseline, declared once.

The loader validates `thresholds:` and `regression:` keys against it, the judge reads each
figure from the report model along `path`, thresholds take their bound from `worse`, and
baselines compare the metrics that have a `regression` name. Adding a metric is one line
here (and, when its figure is new, that figure in the report model).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Bound(enum.StrEnum):
    """`max`: the value must be at most the limit; `min`: at least."""

    MAX = "max"
    MIN = "min"


@dataclass(frozen=True)
class Metric:
    name: str
    """As verdicts name it: `latency_p95_ms`, `rps`, ..."""
    unit: str
    higher_is_worse: bool
    path: tuple[str, ...]
    """Where the figure is in a scenario report (attribute or key names, in the report model
    and in its JSON form alike)."""
    threshold: str | None
    """Its key under `thresholds:` (`max_p95_response_ms`), None when it takes none."""
    regression: str | None = None
    """Its key under `regression:` and in baseline comparisons (`p95`), None when it is
    not compared with a baseline."""
    percentile: float | None = None
    """For a latency percentile, which one: comparing it needs enough requests beyond it."""

    def __post_init__(self) -> None:
        if self.percentile is not None and not 0 < self.percentile < 100:
            raise ValueError(f"{self.name}: a percentile is between 0 and 100 (exclusive)")

    @property
    def peak(self) -> bool:
        """A maximum over the run (the slowest request, peak RSS): once beyond a limit,
        beyond it for good, so it can stop a run without waiting for a window."""
        return self.higher_is_worse and self.path[-1] == "max"

    @property
    def bound(self) -> Bound:
        """Which side of a limit passes: the better one."""
        return Bound.MAX if self.higher_is_worse else Bound.MIN


def _latency(
    key: str, label: str, percentile: float | None = None, compared: bool = False
) -> Metric:
    return Metric(
        name=f"latency_{key}_ms",
        unit="ms",
        higher_is_worse=True,
        path=("latency_ms", key),
        threshold=f"max_{label}_response_ms",
        regression=key if compared else None,
        percentile=percentile,
    )


METRICS: tuple[Metric, ...] = (
    _latency("p50", "p50", 50.0, compared=True),
    _latency("p75", "p75", 75.0),
    _latency("p90", "p90", 90.0),
    _latency("p95", "p95", 95.0, compared=True),
    _latency("p99", "p99", 99.0, compared=True),
    _latency("p999", "p999", 99.9),
    _latency("max", "max"),
    _latency("avg", "avg", compared=True),
    Metric("rps", "req/s", False, ("requests", "rps"), "min_rps", "rps"),
    Metric("success_rate", "%", False, ("requests", "success_rate"), "min_success_rate"),
    Metric("error_rate", "%", True, ("requests", "error_rate"), "max_error_rate", "error_rate"),
    Metric("cpu_percent", "%", True, ("resources", "target", "cpu_percent", "avg"),
           "max_cpu_percent"),
    Metric("memory_mb", "MB", True, ("resources", "target", "memory_mb", "max"),
           "max_memory_mb", "memory_mb"),
    Metric("memory_growth_mb_per_hour", "MB/h", True,
           ("resources", "target", "memory_growth_mb_per_hour", "slope"),
           "max_memory_growth_mb_per_hour"),
    Metric("memory_growth_mb_per_cycle", "MB/cycle", True,
           ("resources", "target", "memory_growth_mb_per_cycle", "slope"),
           "max_memory_growth_mb_per_cycle"),
    Metric("open_files", "files", True, ("resources", "target", "open_files", "max"),
           "max_open_files"),
    Metric("open_files_growth", "files", True, ("resources", "target", "open_files_growth"),
           "max_open_files_growth"),
    Metric("threads", "threads", True, ("resources", "target", "threads", "max"),
           "max_threads"),
    Metric("connections", "sockets", True, ("resources", "target", "sockets", "max"),
           "max_connections"),
)  # fmt: skip

BY_NAME: Mapping[str, Metric] = {m.name: m for m in METRICS}
BY_THRESHOLD: Mapping[str, Metric] = {m.threshold: m for m in METRICS if m.threshold}
"""`thresholds:` YAML key → metric."""
COMPARED: Mapping[str, Metric] = {m.regression: m for m in METRICS if m.regression}
"""The metrics a baseline comparison judges, by their `regression:` key (also their name in
comparisons and history lines), in the order reports list them."""
PERCENT_METRICS = frozenset(m.name for m in METRICS if m.unit == "%" and m.name != "cpu_percent")
"""Shares of requests: a limit above 100 means nothing (CPU may exceed 100 % of a core)."""
