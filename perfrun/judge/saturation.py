"""Was the generator itself the bottleneck? Pure: evidence in, verdict out.

A load generator that runs out of CPU, or whose event loop falls behind, measures its
own queueing as the target's latency and sends less than asked. Such a run is marked
`generator_saturated`, with the evidence, and its thresholds are flagged unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LOOP_LAG_P99_MS = 25.0
"""Loop wake-ups later than this at p99 distort every latency measured."""
MAX_GENERATOR_CPU_PERCENT = 90.0
"""perfrun's process at or above this share of one core has no headroom left."""
MAX_LATE_FRACTION = 0.01
"""More than this share of scheduled requests sent late: the schedule was not kept."""


@dataclass(frozen=True)
class Evidence:
    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    generator_cpu_percent: float | None
    """Average over the run, % of one core, per worker process."""
    sent: int
    late: int
    """Sent late for a reason of perfrun's own (not counting those that waited for a
    free max_in_flight slot: they wait on the target's latency)."""


@dataclass(frozen=True)
class Assessment:
    saturated: bool
    reasons: tuple[str, ...]
    evidence: Evidence


def assess(evidence: Evidence) -> Assessment:
    """Saturated when any sign is past its bound; every sign found is a reason."""
    reasons = []
    lag = evidence.loop_lag_p99_ms
    if lag is not None and lag > MAX_LOOP_LAG_P99_MS:
        reasons.append(
            f"event-loop lag p99 {lag:.1f} ms > {MAX_LOOP_LAG_P99_MS:g} ms: "
            "latencies include perfrun's own queueing"
        )
    cpu = evidence.generator_cpu_percent
    if cpu is not None and cpu >= MAX_GENERATOR_CPU_PERCENT:
        reasons.append(
            f"perfrun used {cpu:.0f}% of a CPU core per worker process "
            f"(limit {MAX_GENERATOR_CPU_PERCENT:g}%): it could not offer more load"
        )
    if evidence.sent and evidence.late > MAX_LATE_FRACTION * evidence.sent:
        share = 100.0 * evidence.late / evidence.sent
        reasons.append(f"{evidence.late} of {evidence.sent} requests ({share:.1f}%) were sent late")
    return Assessment(saturated=bool(reasons), reasons=tuple(reasons), evidence=evidence)
