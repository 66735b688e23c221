"""The report model: built once from what the run measured, rendered many ways.

Every figure a renderer shows is computed here (or in `metrics`), never in a renderer.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psutil

from perfrun import __version__
from perfrun.metrics.stats import EndpointStats, ScenarioStats
from perfrun.monitor import MonitorResult, Sample
from perfrun.runner import COMPLETED, ScenarioOutcome
from perfrun.thresholds import Verdict, evaluate

LatencySummary = Mapping[str, float | None]


@dataclass(frozen=True)
class Series:
    """avg and max of one sampled series (None when never measured)."""

    avg: float | None
    max: float | None


@dataclass(frozen=True)
class RequestCounts:
    total: int
    succeeded: int
    failed: int
    success_rate: float | None
    """Percent of requests that succeeded; None when none was sent."""
    error_rate: float | None
    rps: float
    bytes_received: int


@dataclass(frozen=True)
class EndpointReport:
    name: str
    method: str
    path: str
    requests: RequestCounts
    latency_ms: LatencySummary
    errors: Mapping[str, int]


@dataclass(frozen=True)
class TargetResources:
    pid: int
    name: str | None
    lost: bool
    cpu_percent: Series
    memory_mb: Series
    threads: Series
    open_files: Series
    sockets: Series
    processes: Series


@dataclass(frozen=True)
class Resources:
    target: TargetResources | None
    system_cpu_percent: Series
    system_memory_percent: Series
    generator_cpu_percent: Series
    generator_memory_mb: Series
    interval_s: float
    monitor_overhead_percent: float
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class TimelinePoint:
    t: int
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class ScenarioReport:
    name: str
    description: str
    type: str
    severity: str
    source: str
    base_url: str
    engine: str
    load: Mapping[str, float | int | None]
    status: str
    message: str
    passed: bool
    started_at: datetime
    finished_at: datetime
    duration_s: float
    requests: RequestCounts
    latency_ms: LatencySummary
    failed_latency_ms: LatencySummary
    errors: Mapping[str, int]
    error_samples: Mapping[str, str]
    endpoints: tuple[EndpointReport, ...]
    resources: Resources | None
    thresholds: tuple[Verdict, ...]
    timeline: tuple[TimelinePoint, ...]


@dataclass(frozen=True)
class RunReport:
    perfrun_version: str
    started_at: datetime
    finished_at: datetime
    environment: Mapping[str, str | int | float]
    interrupted: bool
    scenarios: tuple[ScenarioReport, ...]

    @property
    def passed(self) -> bool:
        return not self.interrupted and all(s.passed for s in self.scenarios)


def build_run_report(
    outcomes: Sequence[ScenarioOutcome],
    started_at: datetime,
    finished_at: datetime,
    interrupted: bool,
) -> RunReport:
    return RunReport(
        perfrun_version=__version__,
        started_at=started_at,
        finished_at=finished_at,
        environment=environment(),
        interrupted=interrupted,
        scenarios=tuple(build_scenario_report(o) for o in outcomes),
    )


def environment() -> dict[str, str | int | float]:
    """Where the run happened, so figures from different machines are not compared blindly."""
    return {
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count() or 0,
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "argv": " ".join(sys.argv),
    }


def build_scenario_report(outcome: ScenarioOutcome) -> ScenarioReport:
    scenario, stats = outcome.scenario, outcome.stats
    duration = stats.window
    resources = _resources(outcome.monitor) if outcome.monitor is not None else None
    requests = _counts(stats.overall, duration)
    latency = stats.overall.latency.summary_ms()
    measured, notes = _measurements(requests, latency, resources)
    verdicts = evaluate(scenario.thresholds, measured, notes)
    passed = outcome.status == COMPLETED and all(v.passed for v in verdicts)
    specs = {r.name: r for r in scenario.requests}
    endpoints = tuple(
        EndpointReport(
            name=name,
            method=specs[name].method,
            path=specs[name].path,
            requests=_counts(ep, duration),
            latency_ms=ep.latency.summary_ms(),
            errors=dict(ep.errors),
        )
        for name, ep in sorted(stats.endpoints.items())
    )
    return ScenarioReport(
        name=scenario.name,
        description=scenario.description,
        type=scenario.type.value,
        severity=scenario.severity.value,
        source=scenario.source,
        base_url=outcome.base_url,
        engine=outcome.engine,
        load={
            "users": scenario.load.users,
            "requests_per_user": scenario.load.requests_per_user,
            "duration_s": scenario.load.duration,
            "ramp_up_s": scenario.load.ramp_up,
            "think_time_s": scenario.load.think_time,
            "timeout_s": scenario.load.timeout,
        },
        status=outcome.status,
        message=outcome.message,
        passed=passed,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        duration_s=duration,
        requests=requests,
        latency_ms=latency,
        failed_latency_ms=stats.overall.failed_latency.summary_ms(),
        errors=dict(stats.overall.errors.most_common()),
        error_samples=dict(stats.error_samples),
        endpoints=endpoints,
        resources=resources,
        thresholds=verdicts,
        timeline=_timeline(stats),
    )


def _counts(stats: EndpointStats, duration: float) -> RequestCounts:
    total = stats.total
    return RequestCounts(
        total=total,
        succeeded=stats.succeeded,
        failed=stats.failed,
        success_rate=100.0 * stats.succeeded / total if total else None,
        error_rate=100.0 * stats.failed / total if total else None,
        rps=total / duration if duration > 0 else 0.0,
        bytes_received=stats.bytes_received,
    )


def _timeline(stats: ScenarioStats) -> tuple[TimelinePoint, ...]:
    points = []
    for t, second in stats.timeline.seconds().items():
        histogram = second.histogram()
        points.append(
            TimelinePoint(
                t=t,
                requests=second.requests,
                errors=second.errors,
                p50_ms=histogram.percentile_ms(50.0),
                p95_ms=histogram.percentile_ms(95.0),
            )
        )
    return tuple(points)


def _series(samples: Sequence[Sample], read: Callable[[Sample], float | int | None]) -> Series:
    """Time-weighted average (samples cover unequal spans) and maximum."""
    pairs = [(float(v), s.dt) for s in samples if (v := read(s)) is not None]
    if not pairs:
        return Series(None, None)
    span = sum(dt for _, dt in pairs)
    avg = sum(v * dt for v, dt in pairs) / span if span > 0 else pairs[-1][0]
    return Series(avg, max(v for v, _ in pairs))


def _resources(monitor: MonitorResult) -> Resources:
    samples = monitor.samples
    target = None
    if monitor.target_pid is not None:
        target = TargetResources(
            pid=monitor.target_pid,
            name=monitor.target_name,
            lost=monitor.target_lost,
            cpu_percent=_series(samples, lambda s: s.target_cpu_percent),
            memory_mb=_series(samples, lambda s: s.target_memory_mb),
            threads=_series(samples, lambda s: s.target_threads),
            open_files=_series(samples, lambda s: s.target_open_files),
            sockets=_series(samples, lambda s: s.target_sockets),
            processes=_series(samples, lambda s: s.target_processes),
        )
    return Resources(
        target=target,
        system_cpu_percent=_series(samples, lambda s: s.system_cpu_percent),
        system_memory_percent=_series(samples, lambda s: s.system_memory_percent),
        generator_cpu_percent=_series(samples, lambda s: s.generator_cpu_percent),
        generator_memory_mb=_series(samples, lambda s: s.generator_memory_mb),
        interval_s=monitor.interval,
        monitor_overhead_percent=monitor.overhead_percent,
        samples=samples,
    )


def _measurements(
    requests: RequestCounts, latency: LatencySummary, resources: Resources | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The flat metric → value mapping thresholds are judged on, and notes explaining it."""
    measured: dict[str, float | None] = {f"latency_{k}_ms": v for k, v in latency.items()}
    measured["rps"] = requests.rps
    measured["success_rate"] = requests.success_rate
    measured["error_rate"] = requests.error_rate
    notes: dict[str, str] = {}
    no_target = "no target process known: set monitor.pid or monitor.process, or --monitor-pid"
    target = resources.target if resources is not None else None
    if target is not None and target.cpu_percent.avg is not None:
        measured["cpu_percent"] = target.cpu_percent.avg
        notes["cpu_percent"] = (
            f"target avg over the run, % of one core (peak {target.cpu_percent.max:.0f})"
        )
        measured["memory_mb"] = target.memory_mb.max
        notes["memory_mb"] = "target RSS, max over the run"
    elif resources is not None and resources.system_cpu_percent.avg is not None:
        measured["cpu_percent"] = resources.system_cpu_percent.avg
        notes["cpu_percent"] = "system CPU avg (" + no_target + ")"
        measured["memory_mb"] = None
        notes["memory_mb"] = no_target
    else:
        measured["cpu_percent"] = measured["memory_mb"] = None
        notes["cpu_percent"] = notes["memory_mb"] = "not monitored"
    if target is not None and target.lost:
        notes["memory_mb"] = notes.get("memory_mb", "") + "; target process exited during the run"
    return measured, notes
