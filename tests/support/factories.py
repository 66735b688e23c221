"""Report-model factories for tests: plausible reports built without running anything,
for the tests of the rules and renderers that read them (change fields with
`dataclasses.replace` or the factories' keyword arguments)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from perfrun.metrics.resources import Sample
from perfrun.report.model import (
    PHASES,
    GeneratorHealth,
    Phase,
    RequestCounts,
    Resources,
    ScenarioReport,
    Series,
    TargetResources,
    TimelinePoint,
    Window,
)
from perfrun.scenario.model import ScenarioStatus, ScenarioType, Severity

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATENCY_KEYS = ("min", "avg", "p50", "p75", "p90", "p95", "p99", "p999", "max")


def latency(
    p50: float = 10.0, p99: float = 20.0, **others: float | None
) -> dict[str, float | None]:
    return {
        "min": 1.0,
        "avg": p50 * 1.1,
        "p50": p50,
        "p75": p50 * 1.2,
        "p90": p50 * 1.4,
        "p95": p50 * 1.5,
        "p99": p99,
        "p999": p99 * 1.5,
        "max": p99 * 2,
    }


def phases(requests: int = 1000, connections: int = 10) -> dict[str, Phase]:
    """Plausible phases: connects of ~0.1 ms, most of the time waiting, a quick receive."""
    figures = (
        (connections, latency(0.1, 0.3)),
        (requests, latency(8.0, 18.0)),
        (requests, latency(0.05, 0.2)),
    )
    return {name: Phase(n, ms) for name, (n, ms) in zip(PHASES, figures, strict=True)}


def counts(total: int = 1000, failed: int = 0, seconds: float = 10.0) -> RequestCounts:
    return RequestCounts(
        total=total,
        succeeded=total - failed,
        failed=failed,
        success_rate=100.0 * (total - failed) / total if total else None,
        error_rate=100.0 * failed / total if total else None,
        rps=total / seconds,
        bytes_received=total * 15,
    )


def sample(t: float, memory_mb: float | None = 50.0, cpu: float | None = 20.0) -> Sample:
    return Sample(
        t=t,
        dt=1.0,
        target_cpu_percent=cpu,
        target_memory_mb=memory_mb,
        target_threads=2,
        target_open_files=10,
        target_sockets=5,
        target_processes=1,
        system_cpu_percent=30.0,
        system_memory_percent=5.0,
        system_memory_used_mb=800.0,
        generator_cpu_percent=25.0,
        generator_memory_mb=48.0,
    )


def resources(
    samples: Sequence[Sample] = (), cpu_max: float | None = 20.0, memory_max: float | None = 50.0
) -> Resources:
    target = TargetResources(
        pid=4242,
        name="python3.11",
        lost=False,
        cpu_percent=Series(cpu_max, cpu_max),
        memory_mb=Series(memory_max, memory_max),
        threads=Series(2.0, 2.0),
        open_files=Series(10.0, 10.0),
        sockets=Series(5.0, 5.0),
        processes=Series(1.0, 1.0),
    )
    return Resources(
        target=target,
        system_cpu_percent=Series(30.0, 40.0),
        system_memory_percent=Series(5.0, 5.0),
        generator_cpu_percent=Series(25.0, 30.0),
        generator_memory_mb=Series(48.0, 48.0),
        interval_s=1.0,
        monitor_overhead_percent=0.1,
        samples=tuple(samples),
    )


def generator(saturated: bool = False, reasons: Sequence[str] = ()) -> GeneratorHealth:
    return GeneratorHealth(
        saturated=saturated,
        reasons=tuple(reasons),
        loop_lag_ms=latency(0.3, 2.0),
        cpu_percent=25.0,
        workers=1,
        fails_run=False,
    )


def timeline(
    requests: Sequence[int],
    p95: Sequence[float | None] | None = None,
    target: Sequence[float | None] | None = None,
    warmup: int = 0,
    span_s: int = 1,
) -> tuple[TimelinePoint, ...]:
    p95s = p95 if p95 is not None else [12.0] * len(requests)
    targets = target if target is not None else [None] * len(requests)
    return tuple(
        TimelinePoint(
            t=i * span_s,
            requests=r,
            errors=0,
            p50_ms=10.0,
            p95_ms=q,
            p99_ms=q * 1.5 if q is not None else None,
            target=g,
            warmup=i * span_s < warmup,
            span_s=span_s,
        )
        for i, (r, q, g) in enumerate(zip(requests, p95s, targets, strict=True))
    )


def scenario_report(**changes: Any) -> ScenarioReport:
    """A plausible healthy closed-model scenario; `changes` replace its fields."""
    base = ScenarioReport(
        name="health",
        description="",
        type=ScenarioType.LOAD,
        severity=Severity.HIGH,
        source="scenarios/health.yaml:1",
        base_url="http://127.0.0.1:8000",
        engine="fast",
        load={"model": "closed", "users": 10, "duration_s": 10.0, "warmup_s": 0.0},
        status=ScenarioStatus.COMPLETED,
        message="",
        passed=True,
        started_at=START,
        finished_at=START,
        duration_s=10.0,
        requests=counts(),
        latency_basis="send_time",
        latency_ms=latency(),
        service_time_ms=latency(),
        failed_latency_ms=dict.fromkeys(LATENCY_KEYS),
        errors={},
        error_samples={},
        endpoints=(),
        checks=(),
        window=Window(0.0, 10.0, 10.0),
        warmup=None,
        schedule=None,
        generator=generator(),
        resources=resources([sample(t) for t in range(1, 11)]),
        thresholds=(),
        thresholds_reliable=True,
        timeline=timeline([100] * 10),
        phases=phases(),
    )
    return dataclasses.replace(base, **changes)
