"""Builds the report model from what the runner measured, judged: every derived figure
(rates, percentiles, resource series), the verdicts (thresholds, saturation, the
baseline's regressions, --fail-on) and the insights are computed here, once. The report
that leaves this module is final: nothing downstream replaces a part of it.
"""

from __future__ import annotations

import math
import os
import platform
import re
import socket
import sys
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import psutil

from perfrun import __version__
from perfrun.engine.checks import check_names
from perfrun.engine.debug import redact_line, redact_target
from perfrun.engine.profile import Profile, rate_profile, users_profile
from perfrun.execution.monitor import MonitorResult
from perfrun.execution.outcome import ScenarioOutcome, ShareEvidence, TargetRun
from perfrun.judge.baseline import DEFAULT_TOLERANCE_PERCENT, compare
from perfrun.judge.figures import Baseline, ScenarioFigures, load_settings, scenario_figures
from perfrun.judge.insights import insights
from perfrun.judge.leaks import (
    cycle_growth,
    memory_growth,
    open_files_growth,
    resource_measurements,
)
from perfrun.judge.saturation import Evidence, assess
from perfrun.judge.thresholds import evaluate
from perfrun.metrics.resources import Sample
from perfrun.metrics.stats import EndpointStats, Phases, ScenarioStats
from perfrun.metrics.timeline import Gauge
from perfrun.metrics.windows import WindowWatch
from perfrun.report.model import (
    PHASES,
    BaselineSummary,
    CheckCount,
    Comparison,
    ConnectBackoff,
    EndpointReport,
    GeneratorHealth,
    LatencySummary,
    LaunchedTarget,
    Phase,
    RequestCounts,
    Resources,
    RunReport,
    ScenarioReport,
    Schedule,
    Series,
    ShareHealth,
    TargetResources,
    TimelinePoint,
    Verdict,
    Warmup,
    Window,
)
from perfrun.scenario.model import (
    LoadModel,
    LoadSpec,
    Scenario,
    ScenarioStatus,
    Severity,
    Threshold,
)

MIN_CPU_SPAN = 0.5
"""Seconds of monitoring below which perfrun's CPU is not used to judge saturation."""

SPECTRUM_PERCENTILES = (
    0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 97.5, 99.0,
    99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
)  # fmt: skip


@dataclass(frozen=True)
class Rules:
    """How a run is judged beyond each scenario's own thresholds."""

    fail_on: Severity = Severity.LOW
    """Failures of scenarios below this severity are tolerated: reported, not failing."""
    fail_on_saturation: bool = False
    """--on-saturation fail: a saturated generator fails its scenario."""
    fail_on_warn: bool = False
    """--fail-on-warn: a warning (a WARN verdict, or --on-saturation warn's unreliable
    verdicts) fails its scenario."""
    baseline: Baseline | None = None
    max_regression: float = DEFAULT_TOLERANCE_PERCENT
    """Percent; a scenario's `regression:` block overrides it per metric."""


def build_run_report(
    outcomes: Sequence[ScenarioOutcome],
    started_at: datetime,
    finished_at: datetime,
    interrupted: bool,
    rules: Rules = Rules(),
    overrides: Mapping[str, tuple[str, ...]] | None = None,
) -> RunReport:
    """The run's report: each scenario measured, then judged against its thresholds, the
    baseline (when there is one) and --fail-on; `overrides`: what the command line set
    over the scenario files (`-e` keys)."""
    measured = [measure_scenario(o, rules.fail_on_saturation, rules.fail_on_warn) for o in outcomes]
    tolerances = {o.scenario.name: o.scenario.regression for o in outcomes}
    summary, scenarios = judge_scenarios(measured, tolerances, rules)
    return RunReport(
        perfrun_version=__version__,
        started_at=started_at,
        finished_at=finished_at,
        environment=environment(),
        interrupted=interrupted,
        scenarios=scenarios,
        fail_on=rules.fail_on,
        baseline=summary,
        overrides=dict(overrides or {}),
    )


def judge_scenarios(
    measured: Sequence[ScenarioReport],
    tolerances: Mapping[str, Mapping[str, float]],
    rules: Rules,
) -> tuple[BaselineSummary | None, tuple[ScenarioReport, ...]]:
    """Measured scenarios judged beyond their thresholds: each gets its insights and its
    comparison with the baseline (a regression fails it), then --fail-on decides whether
    its failure is tolerated. `tolerances`: scenario → its `regression:` block."""
    summary: BaselineSummary | None = None
    compared: dict[str, tuple[Comparison, tuple[Verdict, ...]]] = {}
    if rules.baseline is not None:
        current: dict[str, ScenarioFigures] = {
            s.name: scenario_figures(s) for s in measured if s.status is ScenarioStatus.COMPLETED
        }
        summary, compared = compare(
            current, rules.baseline.figures, tolerances, rules.max_regression, rules.baseline.source
        )
    return summary, tuple(_judged(s, compared.get(s.name), rules.fail_on) for s in measured)


def _judged(
    s: ScenarioReport,
    compared: tuple[Comparison, tuple[Verdict, ...]] | None,
    fail_on: Severity,
) -> ScenarioReport:
    comparison, regressions = compared if compared is not None else (None, ())
    passed = s.passed and all(v.passed for v in regressions)
    return replace(
        s,
        insights=insights(s),
        comparison=comparison,
        thresholds=(*s.thresholds, *regressions),
        passed=passed,
        tolerated=not passed and s.severity.rank < fail_on.rank,
    )


def environment() -> dict[str, str | int | float]:
    """Where the run happened, so figures from different machines are not compared blindly."""
    return {
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count() or 0,
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "argv": " ".join(redacted_argv(sys.argv)),
    }


def redacted_argv(argv: Sequence[str]) -> list[str]:
    """The command line with its secrets left out, for reports that are kept and shared:
    the values of `-e KEY=VALUE` (`KEY=…`), credential headers (`-H 'Authorization:
    Bearer …'`), a `--body` given inline, and passwords and token-like query values in
    URLs."""
    out: list[str] = []
    hide: Callable[[str], str] | None = None  # how to show the value of the option before
    for arg in argv:
        if hide is not None:
            out.append(hide(arg))
            hide = None
            continue
        option, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        for short, long, shown in _SECRET_OPTIONS:
            if option in (short, long):
                if equals:
                    out.append(f"{option}={shown(value)}")
                else:
                    out.append(arg)
                    hide = shown
                break
            if arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
                out.append(short + shown(arg[len(short) :]))
                break
        else:
            out.append(_url_shown(arg) if "://" in arg else arg)
    return out


def _key_only(pair: str) -> str:
    return pair.partition("=")[0] + "=…"


def _body_shown(body: str) -> str:
    return body if body.startswith("@") else "…"


def _url_shown(url: str) -> str:
    """A URL without its password, its credential-like query values hidden."""
    return redact_target(_USERINFO.sub(lambda m: m.group(1) + ":…@", url))


_USERINFO = re.compile(r"(?<=://)([^/@:\s]*):[^/@\s]*@")
_SECRET_OPTIONS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("-e", "--env", _key_only),
    ("-H", "--header", redact_line),
    ("--body", "--body", _body_shown),
)


def measure_scenario(
    outcome: ScenarioOutcome, fail_on_saturation: bool = False, fail_on_warn: bool = False
) -> ScenarioReport:
    """One scenario's figures and its threshold and saturation verdicts; not yet compared
    with a baseline nor given insights (see build_run_report)."""
    scenario, stats = outcome.scenario, outcome.stats
    duration = stats.window
    monitor = outcome.monitor
    window = _window(stats)
    resources = _resources(monitor, stats.origin, window) if monitor is not None else None
    requests = _counts(stats.overall, duration)
    latency = stats.overall.latency.summary_ms()
    generator = _generator(stats, resources, outcome.workers, fail_on_saturation)
    if outcome.cluster is not None:
        generator = _on_cluster(generator, outcome.cluster, outcome.shares)
    measured, notes = _measurements(requests, latency, resources, outcome.cluster)
    endpoints = _endpoints(scenario, stats, duration)
    verdicts = evaluate(
        scenario.thresholds,
        measured,
        notes,
        requests={e.name: _measurements(e.requests, e.latency_ms, None)[0] for e in endpoints},
        windows=judged_windows(scenario.thresholds, stats, outcome.windows),
    )
    warned = any(v.warned for v in verdicts) or generator.saturated
    passed = (
        outcome.status is ScenarioStatus.COMPLETED
        and all(v.passed for v in verdicts)
        and not (generator.saturated and generator.fails_run)
        and not (fail_on_warn and warned)
    )
    open_model = scenario.load.model is LoadModel.OPEN
    return ScenarioReport(
        overrides=dict(scenario.overrides),
        name=scenario.name,
        description=scenario.description,
        type=scenario.type,
        severity=scenario.severity,
        source=scenario.source,
        base_url=outcome.base_url,
        engine=outcome.engine,
        load=load_settings(scenario.load),
        status=outcome.status,
        message=outcome.message,
        backoff=(
            ConnectBackoff(outcome.backoffs.waits, outcome.backoffs.seconds)
            if outcome.backoffs
            else None
        ),
        passed=passed,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        duration_s=duration,
        requests=requests,
        latency_basis="intended_send_time" if open_model else "send_time",
        latency_ms=latency,
        service_time_ms=stats.service_time().summary_ms(),
        failed_latency_ms=stats.overall.failed_latency.summary_ms(),
        errors=dict(stats.overall.errors.most_common()),
        error_samples=dict(stats.error_samples),
        endpoints=endpoints,
        checks=_checks(scenario, stats),
        window=window,
        warmup=_warmup(scenario.load, stats),
        schedule=_schedule(stats) if open_model else None,
        generator=generator,
        resources=resources,
        thresholds=verdicts,
        thresholds_reliable=not generator.saturated,
        timeline=_timeline(scenario.load, stats),
        latency_spectrum=tuple(stats.overall.latency.spectrum_ms(SPECTRUM_PERCENTILES)),
        phases=_phases(stats.overall.phases),
        target=_launched(outcome.target),
        fail_on_warn=fail_on_warn,
    )


def judged_windows(
    thresholds: Sequence[Threshold], stats: ScenarioStats,
    live: Mapping[str, WindowWatch] | None = None,
) -> dict[str, WindowWatch]:  # fmt: skip
    """Each `over` threshold's windows, judged over the measured seconds: from the first
    whole second after the warm-up to the last whole second of the measured window (a
    run shorter than the window: all of it, as one window). A run past the timeline's
    per-second points (perfrun.metrics.timeline.MAX_POINTS seconds) is judged by the
    `live` watches, which saw every second as the load ran."""
    windowed = [t for t in thresholds if t.over is not None]
    if not windowed or stats.last_end is None:
        return {}
    if stats.timeline.span != 1 and live and all(t.label in live for t in windowed):
        return {t.label: live[t.label] for t in windowed}
    start = math.ceil(stats.warmup_end - stats.origin)
    end = stats.last_end - stats.origin
    watches = {}
    for t in windowed:
        watch = WindowWatch(t, start)
        watch.advance(stats.timeline, int(end), stats.rests)
        if not watch.judged:  # shorter than a window: all of it, its last part-second too
            watch.advance(stats.timeline, math.ceil(end), stats.rests)
        watch.finish(seconds=end - start if end > start else None)
        watches[t.label] = watch
    return watches


def _phases(phases: Phases) -> dict[str, Phase]:
    return {
        name: Phase(histogram.total, histogram.summary_ms())
        for name, histogram in zip(
            PHASES, (phases.connect, phases.wait, phases.receive), strict=True
        )
    }


def _endpoints(
    scenario: Scenario, stats: ScenarioStats, duration: float
) -> tuple[EndpointReport, ...]:
    specs = {r.name: r for r in scenario.requests}
    return tuple(
        EndpointReport(
            name=name,
            method=specs[name].method,
            path=specs[name].path,
            requests=_counts(ep, duration),
            latency_ms=ep.latency.summary_ms(),
            errors=dict(ep.errors),
            phases=_phases(ep.phases),
        )
        for name, ep in sorted(stats.endpoints.items())
    )


def _checks(scenario: Scenario, stats: ScenarioStats) -> tuple[CheckCount, ...]:
    """Every declared check, with how many responses it judged and how many failed."""
    counts = []
    for spec in scenario.requests:
        endpoint = stats.endpoints.get(spec.name, EndpointStats())
        for name in check_names(spec):
            counts.append(
                CheckCount(name, spec.name, endpoint.checked, endpoint.failed_checks[name])
            )
    return tuple(counts)


def _window(stats: ScenarioStats) -> Window:
    if stats.first_start is None or stats.last_end is None:
        return Window(0.0, 0.0, 0.0)
    start = stats.first_start - stats.origin
    # Leak cycles: the rests between them lie inside the window but are not measured time.
    return Window(start, start + stats.window + stats.paused, stats.window)


def _warmup(load: LoadSpec, stats: ScenarioStats) -> Warmup | None:
    if load.warmup <= 0:
        return None
    return Warmup(
        duration_s=load.warmup,
        requests=_counts(stats.warmup, load.warmup),
        latency_ms=stats.warmup.latency.summary_ms(),
    )


def _schedule(stats: ScenarioStats) -> Schedule:
    counts = stats.schedule
    return Schedule(
        due=counts.due,
        sent=counts.sent,
        late=counts.late,
        capped=counts.capped,
        dropped=counts.dropped,
        send_delay_ms=stats.send_delay.summary_ms(),
    )


def _generator(
    stats: ScenarioStats, resources: Resources | None, workers: int, fail_on_saturation: bool
) -> GeneratorHealth:
    lag = stats.loop_lag.summary_ms()
    cpu = resources.generator_cpu_percent.avg if resources is not None else None
    observed = sum(sample.dt for sample in resources.samples) if resources is not None else 0.0
    # A CPU rate over a few milliseconds (a run that ended at once) is start-up noise.
    judged_cpu = cpu if observed >= MIN_CPU_SPAN else None
    assessment = assess(
        Evidence(
            loop_lag_p99_ms=lag["p99"],
            loop_lag_max_ms=lag["max"],
            # Each worker is one event loop on one core: judge the load per worker.
            generator_cpu_percent=judged_cpu / workers if judged_cpu is not None else None,
            sent=stats.schedule.sent,
            late=stats.schedule.late_own,
        )
    )
    return GeneratorHealth(
        saturated=assessment.saturated,
        reasons=assessment.reasons,
        loop_lag_ms=lag,
        cpu_percent=cpu,
        workers=workers,
        fails_run=fail_on_saturation,
    )


CLOCK_WARNING_MS = 50.0
"""A share whose clock is further than this from the scheduler's started off the common
instant by as much."""


def _on_cluster(
    generator: GeneratorHealth, address: str, shares: tuple[ShareEvidence, ...]
) -> GeneratorHealth:
    """The generator's health on a Dask cluster: each share judged on its own evidence
    (its process, its event loop, its late sends), the whole saturated when one is;
    the CPU is the shares' processes' together (this process only waited for them)."""
    judged = tuple(_share(share) for share in shares)
    reasons = tuple(
        f"share {share.index} on {share.worker}: {reason}"
        for share in judged
        for reason in share.reasons
    )
    cpus = [share.cpu_percent for share in judged if share.cpu_percent is not None]
    return replace(
        generator,
        saturated=any(share.saturated for share in judged),
        reasons=reasons,
        cpu_percent=sum(cpus) if cpus else None,
        workers=max(len(shares), 1),
        cluster=address,
        shares=judged,
    )


def _share(share: ShareEvidence) -> ShareHealth:
    assessment = assess(
        Evidence(
            loop_lag_p99_ms=share.loop_lag_p99_ms,
            loop_lag_max_ms=share.loop_lag_max_ms,
            generator_cpu_percent=share.cpu_percent,
            sent=share.sent,
            late=share.late,
        )
    )
    warnings = []
    if abs(share.clock_offset_ms) > CLOCK_WARNING_MS:
        warnings.append(
            f"clock {share.clock_offset_ms:+.0f} ms off the scheduler's (more than "
            f"{CLOCK_WARNING_MS:g} ms): this share started off the common instant by as much"
        )
    if share.start_late_ms > CLOCK_WARNING_MS:
        warnings.append(
            f"started {share.start_late_ms:.0f} ms after the common instant (its task "
            "reached its worker late): its first second is not the others'"
        )
    if share.lost:
        warnings.append("lost (its worker left, or its task failed): its figures are missing")
    return ShareHealth(
        index=share.index, worker=share.worker, host=share.host, load=share.load,
        requests=share.requests, cpu_percent=share.cpu_percent,
        clock_offset_ms=share.clock_offset_ms, saturated=assessment.saturated,
        reasons=assessment.reasons, warnings=tuple(warnings), lost=share.lost,
        start_late_ms=share.start_late_ms,
    )  # fmt: skip


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
        redirects=stats.redirects,
    )


def _timeline(load: LoadSpec, stats: ScenarioStats) -> tuple[TimelinePoint, ...]:
    profile: Profile | None = None
    if load.model is LoadModel.OPEN:
        profile = rate_profile(load)
    elif load.stages:
        profile = users_profile(load)
    warmup_seconds = stats.warmup_end - stats.origin
    end = stats.last_end - stats.origin if stats.last_end is not None else None
    timeline = stats.timeline
    span = timeline.span
    gauges = timeline.gauges()
    seconds = timeline.seconds()
    received = _received_by_point(gauges, list(seconds))
    points = []
    for t, point in seconds.items():
        p50, p95, p99 = point.percentiles_ms((50.0, 95.0, 99.0))
        measured = measured_seconds(t, span, end)
        gauge = gauges.get(t)
        points.append(
            TimelinePoint(
                t=t,
                requests=point.requests,
                errors=point.errors,
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                target=profile.value_at(t + span / 2) if profile is not None else None,
                warmup=t < warmup_seconds,
                span_s=span,
                measured_s=measured,
                users=scheduled_users(load, t + measured / 2, stats.rests),
                in_flight=gauge.mean_in_flight if gauge is not None else None,
                bytes_received=received.get(t, 0) if gauges else None,
            )
        )
    return tuple(points)


def _received_by_point(gauges: Mapping[int, Gauge], points: Sequence[int]) -> dict[int, int]:
    """The bytes received in each point's span. A span sampled without a completion of
    its own (a late sample's bytes) gives them to the point before it (or the first), so
    that the points hold every byte the run received."""
    received: dict[int, int] = {}
    if not points:
        return received
    for t, gauge in gauges.items():
        at = points[max(bisect_right(points, t) - 1, 0)]  # points are sorted
        received[at] = received.get(at, 0) + gauge.received
    return received


def measured_seconds(t: int, span: int, end: float | None) -> float:
    """The part of the timeline point [t, t + span) the run measured: all of it, but
    for the point the load's last completion (`end`, seconds since the load started;
    None: unknown) fell in."""
    if end is None or end >= t + span:
        return float(span)
    return max(end - t, 0.0)


def scheduled_users(
    load: LoadSpec, at: float, rests: Sequence[tuple[float, float]] = ()
) -> float | None:
    """Closed model: the virtual users the load's schedule has running `at` seconds
    after the load started (a staged load's target; users started by then on a ramp;
    none in a rest between leak cycles). A point after the load's duration holds the
    last requests of the users it ended with. None in the open model."""
    if load.model is LoadModel.OPEN:
        return None
    if any(began <= at < ended for began, ended in rests):
        return 0.0
    at -= max((ended for _, ended in rests if ended <= at), default=0.0)  # this cycle's
    if load.stages:
        profile = users_profile(load)
        return profile.value_at(min(at, profile.duration))
    if load.duration is not None:
        at = min(at, load.duration)
    if load.users <= 1 or load.ramp_up <= 0 or at >= load.ramp_up:
        return float(load.users)
    return float(min(load.users, math.floor(at / (load.ramp_up / load.users)) + 1))


def _series(samples: Sequence[Sample], read: Callable[[Sample], float | int | None]) -> Series:
    """Time-weighted average (samples cover unequal spans) and maximum."""
    pairs = [(float(v), s.dt) for s in samples if (v := read(s)) is not None]
    if not pairs:
        return Series(None, None)
    span = sum(dt for _, dt in pairs)
    avg = sum(v * dt for v, dt in pairs) / span if span > 0 else pairs[-1][0]
    return Series(avg, max(v for v, _ in pairs))


def _resources(monitor: MonitorResult, origin: float, window: Window) -> Resources:
    """The monitor's figures, its samples timed from `origin` (the load's start, as the
    timeline is). The monitor starts first, so the first sample's span begins before the
    load (t - dt < 0); with workers, whose start-up lies between, a sample can be all
    before it (t <= 0)."""
    shift = monitor.started - origin
    samples = tuple(replace(s, t=round(s.t + shift, 3)) for s in monitor.samples)
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
            memory_growth_mb_per_hour=memory_growth(samples, window.start_s, window.end_s),
            open_files_growth=open_files_growth(
                monitor.open_files_before, monitor.open_files_after
            ),
            memory_mb_per_cycle=tuple(m for m in monitor.cycle_memory_mb if m is not None),
            memory_growth_mb_per_cycle=cycle_growth(monitor.cycle_memory_mb)
            if monitor.cycle_memory_mb
            else None,
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
        gaps=monitor.gaps,
        gap_reason=monitor.gap_reason,
    )


def _measurements(
    requests: RequestCounts, latency: LatencySummary, resources: Resources | None,
    cluster: str | None = None,
) -> tuple[dict[str, float | None], dict[str, str]]:  # fmt: skip
    """The flat metric → value mapping thresholds are judged on, and notes explaining it.
    Without a known target process, this machine's CPU stands for the target's, unless
    the load ran on a `cluster` (whose shares' CPU it holds, or none of the target's)."""
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
    elif cluster is not None:
        measured["cpu_percent"] = measured["memory_mb"] = None
        notes["cpu_percent"] = notes["memory_mb"] = (
            f"the load ran on the Dask cluster {cluster}: this machine's CPU is not the "
            f"target's ({no_target}, where the target runs on this machine)"
        )
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
    leaks, leak_notes = resource_measurements(
        target, no_target if resources is not None else "not monitored"
    )
    return measured | leaks, notes | leak_notes


def _launched(target: TargetRun | None) -> LaunchedTarget | None:
    if target is None:
        return None
    return LaunchedTarget(
        pid=target.pid, command=target.command, log=str(target.log), scope=target.scope,
        exit_code=target.exit_code, exited_after_s=target.exited_after_s,
    )  # fmt: skip
