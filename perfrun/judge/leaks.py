"""The target's leak figures and the notes their verdicts carry: memory growth per hour
(over the measured window) and per leak cycle, open files after the load minus before,
and the peaks of its handles. Pure: no I/O, tested with tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfrun.judge.trend import theil_sen
from perfrun.metrics.resources import Sample
from perfrun.report.model import TargetResources, Trend
from perfrun.scenario.units import format_duration

MIN_GROWTH_SAMPLES = 10
"""Samples of RSS in the measured window below which its slope is not judged: with fewer,
the slope's 95 % interval is as wide as the noise of a garbage collection."""
MIN_GROWTH_SPAN_S = 10.0
"""Seconds the samples must span: a per-hour slope from a few seconds is a guess."""
MIN_CYCLES = 3
"""Leak cycles below which their trend is not judged: two readings make a line through
any noise."""


def memory_growth(samples: Sequence[Sample], start_s: float, end_s: float) -> Trend:
    """The slope of the target's RSS in MB/hour, from the samples taken in the measured
    window [start_s, end_s] (seconds since the load started: warm-up excluded)."""
    points = [
        (s.t / 3600.0, s.target_memory_mb)
        for s in samples
        if s.target_memory_mb is not None and start_s <= s.t <= end_s
    ]
    span = (points[-1][0] - points[0][0]) * 3600.0 if points else 0.0
    if len(points) < MIN_GROWTH_SAMPLES:
        return Trend(
            None, None, None, len(points),
            f"{len(points)} RSS samples in the measured window, {MIN_GROWTH_SAMPLES} needed "
            "(a longer run, or a shorter monitor.interval)",
        )  # fmt: skip
    if span < MIN_GROWTH_SPAN_S:
        return Trend(
            None, None, None, len(points),
            f"the RSS samples span {format_duration(span)}, "
            f"{format_duration(MIN_GROWTH_SPAN_S)} needed",
        )  # fmt: skip
    return theil_sen(points)


def cycle_growth(readings: Sequence[float | None]) -> Trend:
    """The slope of the target's RSS in MB per leak cycle, over the readings taken at the
    end of each cycle's rest (a reading is None when the target could not be read)."""
    points = [(float(k), mb) for k, mb in enumerate(readings) if mb is not None]
    if len(points) < MIN_CYCLES:
        return Trend(
            None, None, None, len(points),
            f"{len(points)} RSS readings after leak cycles, {MIN_CYCLES} needed "
            "(load: cycles, in a single-process run)",
        )  # fmt: skip
    return theil_sen(points)


def open_files_growth(before: int | None, after: int | None) -> int | None:
    """Open files after the load minus before it; None unless both were read."""
    return after - before if before is not None and after is not None else None


def resource_measurements(
    target: TargetResources | None, unknown: str
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The leak and handle metrics (perfrun.scenario.metrics) and their verdicts' notes;
    `unknown` says why there is no target when there is none."""
    names = (
        "memory_growth_mb_per_hour", "memory_growth_mb_per_cycle", "open_files",
        "open_files_growth", "threads", "connections",
    )  # fmt: skip
    if target is None:
        return dict.fromkeys(names), dict.fromkeys(names, unknown)
    measured: dict[str, float | None] = {
        "open_files": target.open_files.max,
        "threads": target.threads.max,
        "connections": target.sockets.max,
        "open_files_growth": target.open_files_growth,
    }
    notes = {
        "open_files": "peak of the target's open files (descriptors), children included",
        "threads": "peak of the target's threads, children included",
        "connections": "peak of the target's open sockets (connections and listeners)",
        "open_files_growth": "open files after the load (settled) minus before it"
        if target.open_files_growth is not None
        else "open files not readable before and after the load",
    }
    for name, trend, unit in (
        ("memory_growth_mb_per_hour", target.memory_growth_mb_per_hour, "MB/h"),
        ("memory_growth_mb_per_cycle", target.memory_growth_mb_per_cycle, "MB/cycle"),
    ):
        measured[name] = trend.slope if trend is not None else None
        notes[name] = (
            trend_note(trend, unit)
            if trend is not None
            else "no leak cycles in this load (load: {cycles: N, rest: ...})"
        )
    if target.lost:
        for name in names:
            notes[name] += "; target process exited during the run"
    return measured, notes


def trend_note(trend: Trend, unit: str) -> str:
    """`Theil–Sen slope of 58 readings, 95 % CI 1.2 to 3.4 MB/h`, or why there is none."""
    if trend.slope is None:
        return trend.note
    low = "?" if trend.low is None else f"{trend.low:.3g}"
    high = "?" if trend.high is None else f"{trend.high:.3g}"
    interval = (
        f"95 % CI {low} to {high} {unit}"
        if trend.low is not None or trend.high is not None
        else "too few readings for a 95 % interval"
    )
    return f"Theil–Sen slope of {trend.points} RSS readings, {interval}"
