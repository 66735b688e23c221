"""Thresholds → verdicts. Pure: no I/O, no clocks, tested with tables.

A scenario's measurements are a flat mapping of metric name (perfrun.scenario.metrics)
→ value, None when it could not be measured (e.g. target memory with no target process
known).
"""

from __future__ import annotations

from collections.abc import Mapping

from perfrun.report.model import Verdict, VerdictStatus
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import Threshold


def judge(threshold: Threshold, actual: float | None, note: str = "") -> Verdict:
    """Judge one threshold against its measured value (None: not measured, which fails:
    a limit nobody could check must not pass silently)."""
    if actual is None:
        status = VerdictStatus.NOT_MEASURED
    elif threshold.bound is Bound.MAX:
        status = VerdictStatus.PASS if actual <= threshold.limit else VerdictStatus.FAIL
    else:
        status = VerdictStatus.PASS if actual >= threshold.limit else VerdictStatus.FAIL
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
