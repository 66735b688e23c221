"""Thresholds → verdicts. Pure: no I/O, no clocks, tested with tables.

A scenario's measurements are a flat mapping of metric name (perfrun.scenario.metrics)
→ value, None when it could not be measured (e.g. target memory with no target process
known); a `per_request` threshold reads its request's mapping instead, and an `over`
threshold the windows its `WindowWatch` judged.
"""

from __future__ import annotations

from collections.abc import Mapping

from perfrun.metrics.windows import WindowFigure, WindowWatch
from perfrun.report.model import FailedWindow, Verdict, VerdictStatus
from perfrun.scenario.model import Threshold

Measurements = Mapping[str, float | None]

NO_WINDOW = (
    "no window had a figure: no request (or, for latency, no success) in any, or the run "
    "outlived the timeline's per-second points (34 minutes)"
)


def status_of(threshold: Threshold, actual: float | None) -> VerdictStatus:
    """Beyond the limit fails, beyond `warn` (but not the limit) warns; equal passes.
    None (not measured) fails: a limit nobody could check must not pass silently."""
    if actual is None:
        return VerdictStatus.NOT_MEASURED
    if threshold.beyond(actual, threshold.limit):
        return VerdictStatus.FAIL
    if threshold.warn is not None and threshold.beyond(actual, threshold.warn):
        return VerdictStatus.WARN
    return VerdictStatus.PASS


def judge(threshold: Threshold, actual: float | None, note: str = "") -> Verdict:
    """Judge one threshold against its measured value."""
    return _verdict(threshold, actual, status_of(threshold, actual), note)


def judge_windows(threshold: Threshold, watch: WindowWatch, note: str = "") -> Verdict:
    """An `over` threshold: the worst window is its actual value; the first window that
    failed (else the first that warned) is named."""
    if watch.worst is None or watch.worst.value is None:
        return _verdict(threshold, None, VerdictStatus.NOT_MEASURED, NO_WINDOW)
    figure: WindowFigure | None = watch.first_failure or watch.first_warning
    status = status_of(threshold, watch.worst.value)
    window = None if figure is None else FailedWindow(figure.start_s, figure.end_s, figure.value)
    return _verdict(threshold, watch.worst.value, status, note, window)


def _verdict(
    threshold: Threshold,
    actual: float | None,
    status: VerdictStatus,
    note: str,
    window: FailedWindow | None = None,
) -> Verdict:
    return Verdict(
        key=threshold.label,
        metric=threshold.metric,
        bound=threshold.bound,
        limit=threshold.limit,
        actual=actual,
        status=status,
        note=note,
        warn=threshold.warn,
        over_s=threshold.over,
        window=window,
        default=threshold.default,
    )


def evaluate(
    thresholds: tuple[Threshold, ...],
    measurements: Measurements,
    notes: Mapping[str, str] | None = None,
    requests: Mapping[str, Measurements] | None = None,
    windows: Mapping[str, WindowWatch] | None = None,
) -> tuple[Verdict, ...]:
    """Judge every threshold; `notes` explain per metric why a value is what it is;
    `requests`: each request's measurements; `windows`: by threshold label, the judged
    windows of each `over` threshold (one missing: not measured)."""
    notes, requests, windows = notes or {}, requests or {}, windows or {}
    verdicts = []
    for t in thresholds:
        note = notes.get(t.metric, "")
        if t.over is not None:
            watch = windows.get(t.label)
            verdicts.append(
                judge_windows(t, watch, note)
                if watch is not None
                else judge(t, None, "no per-second timeline to judge windows on")
            )
        elif t.request is not None:
            verdicts.append(judge(t, requests.get(t.request, {}).get(t.metric), note))
        else:
            verdicts.append(judge(t, measurements.get(t.metric), note))
    return tuple(verdicts)
