"""Rule-based observations about a scenario, each with the figures that triggered it.

Pure: a ScenarioReport in, Insights out. Each rule is a small function with its bounds
as module constants, so a reader of the report can tell exactly why it fired.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence

from perfrun.report.model import Insight, ScenarioReport, TimelinePoint

LONG_TAIL_RATIO = 5.0
"""p99 at least this many times p50 ..."""
LONG_TAIL_MIN_GAP_MS = 10.0
"""... and at least this far above it: 0.2 ms vs 1.5 ms is a ratio, not a tail anyone feels."""

MIN_ERROR_SHARE = 0.01
"""Errors must be at least this share of requests before their mix is worth a remark."""
DOMINANT_ERROR_SHARE = 0.5
"""One family of error kinds making up at least this share of the errors dominates."""
TIMEOUT_KINDS = ("timeout", "connect_timeout")
REFUSED_KINDS = ("connect_refused", "reset")

CPU_SATURATED_PERCENT = 90.0
"""Target CPU peak at or above this share of one core counts as saturated. A
multi-threaded target can exceed 100 %: this only says at least one core's worth was used."""
LATENCY_ROSE_FACTOR = 1.5
"""Timeline p95 of the last third of the measured seconds vs the first third."""
MIN_TIMELINE_SECONDS = 3

MEMORY_MIN_GROWTH_FRACTION = 0.10
"""Target RSS growth from the first to the last sample, relative ..."""
MEMORY_MIN_GROWTH_MB = 5.0
"""... and absolute: a few MB of warming caches is not a leak."""
MEMORY_MIN_RISING_SHARE = 0.7
"""Share of sample-to-sample steps that did not go down: steady growth, not one jump."""
MIN_MEMORY_SAMPLES = 4

PLATEAU_LOAD_RISE = 1.5
"""The profile's target (users or rate) must rise at least this much over the run ..."""
PLATEAU_FLAT_FRACTION = 0.10
"""... while requests per second stayed within this fraction above the plateau's start ..."""
PLATEAU_LOAD_STILL_RISING = 1.25
"""... and the target kept rising by at least this factor after it."""
PLATEAU_MIN_SECONDS = 3


def insights(scenario: ScenarioReport) -> tuple[Insight, ...]:
    """Every observation the rules make about `scenario`, in a stable order."""
    found = (rule(scenario) for rule in RULES)
    return tuple(insight for insight in found if insight is not None)


def long_tail(s: ScenarioReport) -> Insight | None:
    p50, p99 = s.latency_ms.get("p50"), s.latency_ms.get("p99")
    if p50 is None or p99 is None or p50 <= 0:
        return None
    ratio = p99 / p50
    if ratio < LONG_TAIL_RATIO or p99 - p50 < LONG_TAIL_MIN_GAP_MS:
        return None
    return Insight(
        rule="long_tail",
        message=(
            f"long tail: p99 {p99:.1f} ms is {ratio:.1f}× the median {p50:.1f} ms; "
            "1 request in 100 waits far longer than usual (queueing, GC pauses, slow paths)"
        ),
        evidence={"p50_ms": p50, "p99_ms": p99, "ratio": round(ratio, 2)},
    )


def _dominant_errors(
    s: ScenarioReport, rule: str, kinds: Sequence[str], describe: str
) -> Insight | None:
    failed, total = s.requests.failed, s.requests.total
    if total == 0 or failed == 0 or failed < MIN_ERROR_SHARE * total:
        return None
    counts = {kind: s.errors.get(kind, 0) for kind in kinds}
    share = sum(counts.values()) / failed
    if share < DOMINANT_ERROR_SHARE:
        return None
    listed = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    return Insight(
        rule=rule,
        message=f"{share:.0%} of the {failed} errors were {describe} ({listed})",
        evidence={**counts, "errors": failed, "requests": total, "share": round(share, 3)},
    )


def timeouts(s: ScenarioReport) -> Insight | None:
    return _dominant_errors(
        s, "timeouts", TIMEOUT_KINDS, "timeouts: the target (or its queue) did not answer in time"
    )


def refused_or_reset(s: ScenarioReport) -> Insight | None:
    return _dominant_errors(
        s,
        "refused_or_reset",
        REFUSED_KINDS,
        "refused or reset connections: the target is down, out of sockets or its backlog is full",
    )


def _measured(s: ScenarioReport) -> list[TimelinePoint]:
    return [p for p in s.timeline if not p.warmup]


def cpu_saturated(s: ScenarioReport) -> Insight | None:
    target = s.resources.target if s.resources is not None else None
    peak = target.cpu_percent.max if target is not None else None
    if peak is None or peak < CPU_SATURATED_PERCENT:
        return None
    p95s = [p.p95_ms for p in _measured(s) if p.p95_ms is not None]
    if len(p95s) < MIN_TIMELINE_SECONDS:
        return None
    third = len(p95s) // 3
    early, late = statistics.median(p95s[:third]), statistics.median(p95s[-third:])
    if early <= 0 or late < LATENCY_ROSE_FACTOR * early:
        return None
    return Insight(
        rule="cpu_saturated",
        message=(
            f"target CPU peaked at {peak:.0f}% of a core while p95 rose from {early:.1f} ms "
            f"to {late:.1f} ms: the target is CPU-bound at this load"
        ),
        evidence={
            "target_cpu_max_percent": peak,
            "p95_first_third_ms": early,
            "p95_last_third_ms": late,
        },
    )


def memory_growth(s: ScenarioReport) -> Insight | None:
    if s.resources is None:
        return None
    points = [
        (sample.t, sample.target_memory_mb)
        for sample in s.resources.samples
        if sample.target_memory_mb is not None
    ]
    if len(points) < MIN_MEMORY_SAMPLES:
        return None
    first, last = points[0][1], points[-1][1]
    growth = last - first
    if growth < MEMORY_MIN_GROWTH_MB or growth < MEMORY_MIN_GROWTH_FRACTION * first:
        return None
    slope = _slope(points)
    steps = [b - a for (_, a), (_, b) in itertools.pairwise(points)]
    rising = sum(1 for step in steps if step >= 0) / len(steps)
    if slope <= 0 or rising < MEMORY_MIN_RISING_SHARE:
        return None
    per_minute = slope * 60.0
    return Insight(
        rule="memory_growth",
        message=(
            f"target memory grew steadily from {first:.0f} MB to {last:.0f} MB "
            f"(~{per_minute:.1f} MB/min): a leak, or a cache that never stops filling"
        ),
        evidence={
            "slope_mb_per_min": round(per_minute, 3),
            "first_mb": first,
            "last_mb": last,
            "rising_steps_share": round(rising, 3),
        },
    )


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 when x does not vary."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def generator_saturated(s: ScenarioReport) -> Insight | None:
    if not s.generator.saturated:
        return None
    return Insight(
        rule="generator_saturated",
        message=(
            "perfrun itself was the bottleneck: " + "; ".join(s.generator.reasons) + ". "
            "The figures describe the generator more than the target"
        ),
        evidence={f"reason_{i}": reason for i, reason in enumerate(s.generator.reasons, 1)},
    )


def _rate(point: TimelinePoint) -> float:
    """Completions per second over the measured part of the point's span (1 s, or longer
    on long runs; less for the last second, which ends with the last completion)."""
    return point.requests / (point.rate_s or point.span_s)


def throughput_plateau(s: ScenarioReport) -> Insight | None:
    # A second measured for less than half its span has no honest rate (TimelinePoint.rate_s).
    points = [p for p in _measured(s) if p.target is not None and p.rate_s is not None]
    if len(points) < PLATEAU_MIN_SECONDS:
        return None
    loads = [p.target for p in points if p.target is not None]
    if max(loads) < PLATEAU_LOAD_RISE * loads[0] or max(loads) <= 0:
        return None
    for i, start in enumerate(points):
        if start.target is None or start.requests == 0:
            continue
        rest = points[i:]
        peak = max(range(len(rest)), key=lambda k: rest[k].target or 0.0)
        window = rest[: peak + 1]
        peak_load = window[-1].target or 0.0
        if len(window) < PLATEAU_MIN_SECONDS:
            break  # later starts only leave shorter windows
        if peak_load < PLATEAU_LOAD_STILL_RISING * start.target:
            continue
        if max(_rate(p) for p in window) > (1 + PLATEAU_FLAT_FRACTION) * _rate(start):
            continue
        plateau_rps = statistics.median(_rate(p) for p in window)
        unit = "req/s offered" if s.load.get("model") == "open" else "users"
        return Insight(
            rule="throughput_plateau",
            message=(
                f"throughput stopped growing at ~{plateau_rps:.0f} req/s when the load "
                f"reached {start.target:g} {unit} (it rose to {peak_load:g} {unit} "
                "afterwards): the target's saturation point"
            ),
            evidence={
                "at_second": start.t,
                "load_at_plateau": start.target,
                "load_peak": peak_load,
                "load_unit": unit,
                "plateau_rps": plateau_rps,
            },
        )
    return None


RULES: tuple[Callable[[ScenarioReport], Insight | None], ...] = (
    long_tail,
    timeouts,
    refused_or_reset,
    cpu_saturated,
    memory_growth,
    generator_saturated,
    throughput_plateau,
)
