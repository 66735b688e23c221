"""The report model: what a run measured and judged, as immutable values.

Built once (`perfrun.judge.build`), rendered many ways (JSON, console, HTML, JUnit,
Markdown). Renderers read these figures and the tally; they never compute their own.
Imports only data: the scenario vocabulary and the resource sample.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from perfrun.metrics.resources import Sample
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import ScenarioStatus, ScenarioType, Severity

LatencySummary = Mapping[str, float | None]


class VerdictStatus(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_MEASURED = "not_measured"
    """A limit nobody could check: it fails, it must not pass silently."""
    WARN = "warn"
    """Beyond the threshold's `warn` level, within its limit: flagged, not failing
    (unless --fail-on-warn)."""


@dataclass(frozen=True)
class FailedWindow:
    """The first window of an `over` threshold that failed (or, none failing, warned):
    seconds [start_s, end_s) since the load started, and its figure."""

    start_s: int
    end_s: int
    value: float | None


@dataclass(frozen=True)
class Verdict:
    """One threshold (or baseline regression limit) judged."""

    key: str
    """The YAML key (`max_p95_response_ms`) or `regression.p95`."""
    metric: str
    bound: Bound
    limit: float
    actual: float | None
    status: VerdictStatus
    note: str = ""
    warn: float | None = None
    """The threshold's warning level, if it has one."""
    over_s: float | None = None
    """Judged on every window of this many seconds; `actual` is the worst window's."""
    window: FailedWindow | None = None
    default: bool = False
    """The scenario type's default threshold, not one the scenario set."""

    @property
    def passed(self) -> bool:
        """Does not fail its scenario: passed, or only warned."""
        return self.status in (VerdictStatus.PASS, VerdictStatus.WARN)

    @property
    def warned(self) -> bool:
        return self.status is VerdictStatus.WARN


class ChangeStatus(enum.StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    NOT_COMPARABLE = "not_comparable"


class Outcome(enum.StrEnum):
    """A scenario's result as CI counts it."""

    PASSED = "passed"
    FAILED = "failed"
    """Completed (or aborted by a threshold), and a threshold, a regression or
    --on-saturation fail failed it."""
    ERRORED = "error"
    """Did not complete (interrupted, unreachable, could not run)."""
    TOLERATED = "tolerated"
    """Failed or errored, but its severity is below --fail-on."""


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
    redirects: int = 0
    """Redirects followed on the way (flows; each request counts once, its redirects
    here)."""


PHASES = ("connect", "wait", "receive")
"""Where a request's time goes (see perfrun.metrics.stats.Phases): a new connection's
handshakes, the wait for the response's first byte, and receiving the rest."""


@dataclass(frozen=True)
class Phase:
    """One phase of requests: how many were timed, and its latency summary."""

    count: int
    ms: LatencySummary


@dataclass(frozen=True)
class EndpointReport:
    name: str
    method: str
    path: str
    requests: RequestCounts
    latency_ms: LatencySummary
    errors: Mapping[str, int]
    phases: Mapping[str, Phase] = field(default_factory=dict)
    """PHASES name -> its figures."""


@dataclass(frozen=True)
class Trend:
    """A series' slope (Theil–Sen, see perfrun.judge.trend) with its 95 % confidence
    interval; None where it could not be estimated, `note` saying why."""

    slope: float | None
    low: float | None
    high: float | None
    points: int
    """How many samples it was estimated from."""
    note: str = ""


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
    memory_growth_mb_per_hour: Trend | None = None
    """RSS slope over the measured window (warm-up excluded)."""
    open_files_growth: int | None = None
    """Open files (descriptors) after the load minus before it: a handle leak."""
    memory_mb_per_cycle: tuple[float, ...] = ()
    """Leak cycles (`load: {cycles: N}`): RSS at the end of each cycle's rest."""
    memory_growth_mb_per_cycle: Trend | None = None
    """RSS slope over the cycles' readings."""


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
    gaps: int = 0
    """Samples the monitor could not take (e.g. EMFILE reading /proc): left out, the next
    one covering their span; the monitor goes on."""
    gap_reason: str | None = None
    """The first such failure, for the report."""


MIN_RATE_FRACTION = 0.5
"""A timeline point measured for less than this part of its span has no rate (see
TimelinePoint.rate_s)."""


@dataclass(frozen=True)
class TimelinePoint:
    t: int
    """Second of the run the point starts at (completions from t to t + span_s seconds
    after the load started)."""
    requests: int
    errors: int
    """Completions in the point's span (per second only when span_s is 1)."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    """Of the span's successful requests; with fewer than 100 of them, their slowest."""
    target: float | None
    """What the load profile asked for at the middle of the span: users (closed
    model) or requests/s (open model); None for a plain closed model."""
    warmup: bool
    """The span starts in the warm-up."""
    span_s: int = 1
    """Seconds the point covers: 1, or a power of two once a run is longer than the
    timeline's bound of points (perfrun.metrics.timeline.MAX_POINTS)."""
    measured_s: float | None = None
    """Seconds of the span the run measured: span_s, less for the last point when the
    load ended inside it (None: as span_s, in reports of earlier versions)."""
    users: float | None = None
    """Closed model: the virtual users the load's schedule had running at the middle of
    the span (a staged load's target; a ramp's users started by then); None in the
    open model."""
    in_flight: float | None = None
    """Requests in flight at the end of each second of the span, on average: in the open
    model sent and not completed; in the closed model awaiting their response on the
    fast engine's connections. None where not sampled (the httpx engine's closed model,
    a last partial second)."""
    bytes_received: int | None = None
    """Response bytes received in the span (sampled at each second's end); None in
    reports of earlier versions."""

    @property
    def rate_s(self) -> float | None:
        """Seconds to divide the point's counts by for a rate: the measured part of its
        span; None when less than half of it was measured (a last second that ended just
        after it began: a rate of a few requests over a few ms is noise, and counts over
        the whole span a false drop)."""
        measured = self.span_s if self.measured_s is None else self.measured_s
        return measured if measured >= self.span_s * MIN_RATE_FRACTION else None


@dataclass(frozen=True)
class Window:
    """The measured window, in seconds since the load started: warm-up excluded, from
    the first measured request's (intended) start to the last one's end."""

    start_s: float
    end_s: float
    duration_s: float


@dataclass(frozen=True)
class Schedule:
    """Open model: what the schedule asked for, and how well perfrun kept it."""

    due: int
    sent: int
    late: int
    """Sent more than 10 ms after the intended time, for any reason."""
    capped: int
    """Had to wait for a free max_in_flight slot."""
    dropped: int
    """Never sent: still waiting for a slot, or perfrun too far behind, when the
    schedule ended."""
    send_delay_ms: LatencySummary
    """How long after its intended time each request was sent."""


@dataclass(frozen=True)
class Warmup:
    duration_s: float
    requests: RequestCounts
    latency_ms: LatencySummary


@dataclass(frozen=True)
class ShareHealth:
    """One share of a load run on a Dask cluster (`--cluster`): where it ran, what it
    sent, and whether its own generator was the bottleneck."""

    index: int
    worker: str
    """The Dask worker's address."""
    host: str
    load: str
    """Its part of the load, in words (which users, which scheduled requests)."""
    requests: int
    cpu_percent: float | None
    """Its worker process, % of one core over its run."""
    clock_offset_ms: float
    """Its clock against the scheduler's, as Dask measured it: the shares start at one
    instant of the scheduler's clock, each read on its own clock through this."""
    saturated: bool
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    """A clock offset or a late start past CLOCK_WARNING_MS; a share lost."""
    lost: bool
    start_late_ms: float = 0.0
    """How long after the common start it began (its task reached its worker late)."""


@dataclass(frozen=True)
class GeneratorHealth:
    """Was perfrun itself the bottleneck? (see perfrun.judge.saturation)"""

    saturated: bool
    reasons: tuple[str, ...]
    loop_lag_ms: LatencySummary
    cpu_percent: float | None
    """All of perfrun's processes together, % of one core."""
    workers: int
    fails_run: bool
    """--on-saturation fail: a saturated generator fails the scenario."""
    cluster: str | None = None
    """The Dask scheduler the load ran on (`--cluster`); None: this machine."""
    shares: tuple[ShareHealth, ...] = ()
    """On a cluster: each share, judged on its own evidence."""


@dataclass(frozen=True)
class CheckCount:
    name: str
    endpoint: str
    evaluated: int
    failed: int


@dataclass(frozen=True)
class LaunchedTarget:
    """The service perfrun launched for a scenario (`target:`)."""

    pid: int
    command: tuple[str, ...]
    log: str
    """The file its stdout and stderr went to."""
    scope: str
    exit_code: int | None = None
    """When it exited during the scenario (status target_exited); negative: killed by
    that signal."""
    exited_after_s: float | None = None
    """When it exited, seconds since the load started."""


@dataclass(frozen=True)
class ConnectBackoff:
    """Waits of the users for a target whose connects kept failing (a dead target is not
    hammered: perfrun.engine.backoff)."""

    waits: int
    seconds: float
    """In all, summed over the users."""


@dataclass(frozen=True)
class ScenarioReport:
    name: str
    description: str
    type: ScenarioType
    severity: Severity
    source: str
    base_url: str
    engine: str
    load: Mapping[str, object]
    status: ScenarioStatus
    message: str
    passed: bool
    started_at: datetime
    finished_at: datetime
    duration_s: float
    requests: RequestCounts
    latency_basis: str
    """`intended_send_time` (open model: corrected for coordinated omission) or
    `send_time` (closed model, which has no schedule)."""
    latency_ms: LatencySummary
    service_time_ms: LatencySummary
    """From the actual send: what a closed-loop tool would have reported."""
    failed_latency_ms: LatencySummary
    errors: Mapping[str, int]
    error_samples: Mapping[str, str]
    endpoints: tuple[EndpointReport, ...]
    checks: tuple[CheckCount, ...]
    window: Window
    warmup: Warmup | None
    schedule: Schedule | None
    generator: GeneratorHealth
    resources: Resources | None
    thresholds: tuple[Verdict, ...]
    thresholds_reliable: bool
    """False when the generator was saturated: the verdicts judge perfrun, not the target."""
    timeline: tuple[TimelinePoint, ...]
    latency_spectrum: tuple[tuple[float, float], ...] = ()
    """(percentile, latency ms) pairs from p0 to p99.999 and the max: the distribution's
    shape, for a percentile-spectrum chart."""
    insights: tuple[Insight, ...] = ()
    comparison: Comparison | None = None
    """Against a baseline (--baseline), when the baseline has this scenario."""
    tolerated: bool = False
    """Failed, but its severity is below --fail-on: reported, not failing the run."""
    phases: Mapping[str, Phase] = field(default_factory=dict)
    """All endpoints' phases together (PHASES name -> its figures)."""
    target: LaunchedTarget | None = None
    """The service perfrun launched for it, if any."""
    fail_on_warn: bool = False
    """--fail-on-warn: a warning (a WARN verdict, unreliable verdicts) fails it."""
    backoff: ConnectBackoff | None = None
    """When users waited for a target whose connects kept failing; None: they never did."""

    overrides: Mapping[str, str] = field(default_factory=dict)
    """The command line's load options it took (`--users`: "10")."""

    @property
    def warned(self) -> bool:
        """Passed, but not cleanly: a verdict between its warn level and its limit, or a
        saturated generator, whose verdicts are inconclusive."""
        return self.passed and (
            any(v.warned for v in self.thresholds) or not self.thresholds_reliable
        )

    @property
    def judged(self) -> bool:
        """Some threshold judged it (`thresholds: none` and no baseline: nothing did)."""
        return bool(self.thresholds)

    @property
    def outcome(self) -> Outcome:
        if self.passed:
            return Outcome.PASSED
        if self.tolerated:
            return Outcome.TOLERATED
        # A launched target that died under the load is a finding about the service, and
        # an abort by a threshold a verdict: the scenario failed (exit 1); it was not a
        # run that could not be carried out.
        if self.status not in (
            ScenarioStatus.COMPLETED,
            ScenarioStatus.TARGET_EXITED,
            ScenarioStatus.ABORTED,
        ):
            return Outcome.ERRORED
        return Outcome.FAILED


@dataclass(frozen=True)
class Insight:
    """A rule-based observation about a scenario, with the figures that triggered it."""

    rule: str
    """Stable id: long_tail, timeouts, refused_or_reset, cpu_saturated, memory_growth,
    generator_saturated, throughput_plateau."""
    message: str
    """Plain words for a person."""
    evidence: Mapping[str, float | str]


@dataclass(frozen=True)
class MetricChange:
    """One metric of a scenario against its baseline."""

    metric: str
    """p50, p95, p99, avg (latency ms), rps, error_rate (%), memory_mb (target)."""
    baseline: float | None
    current: float | None
    change_percent: float | None
    """(current - baseline) / baseline × 100; None when either is missing or zero."""
    tolerance_percent: float
    status: ChangeStatus
    note: str = ""
    """Why a metric was not compared, when it is not obvious (too few requests)."""


@dataclass(frozen=True)
class Comparison:
    source: str
    """Where the baseline came from: a report file, or the history's median."""
    changes: tuple[MetricChange, ...]


@dataclass(frozen=True)
class BaselineSummary:
    source: str
    only_in_baseline: tuple[str, ...]
    only_in_run: tuple[str, ...]


@dataclass(frozen=True)
class Tally:
    """How many scenarios ended each way: the one count every renderer shows."""

    passed: int = 0
    failed: int = 0
    errored: int = 0
    tolerated: int = 0
    warned: int = 0
    """Of the passed: with a warning (a WARN verdict, or unreliable verdicts)."""
    unjudged: int = 0
    """Of the passed: with no threshold at all (`thresholds: none`)."""

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errored + self.tolerated

    @property
    def not_passed(self) -> int:
        """Failed or errored, and not tolerated: what fails the run."""
        return self.failed + self.errored


@dataclass(frozen=True)
class RunReport:
    perfrun_version: str
    started_at: datetime
    finished_at: datetime
    environment: Mapping[str, str | int | float]
    interrupted: bool
    scenarios: tuple[ScenarioReport, ...]
    fail_on: Severity = Severity.LOW
    """Scenarios below this severity may fail without failing the run (--fail-on)."""
    baseline: BaselineSummary | None = None
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """What the command line set over the scenario files: `env`, the `-e` keys."""

    @property
    def tally(self) -> Tally:
        outcomes = [s.outcome for s in self.scenarios]
        return Tally(
            passed=outcomes.count(Outcome.PASSED),
            failed=outcomes.count(Outcome.FAILED),
            errored=outcomes.count(Outcome.ERRORED),
            tolerated=outcomes.count(Outcome.TOLERATED),
            warned=sum(1 for s in self.scenarios if s.warned),
            unjudged=sum(1 for s in self.scenarios if s.passed and not s.judged),
        )

    @property
    def passed(self) -> bool:
        """Not interrupted, and every scenario passed or had its failure tolerated."""
        return not self.interrupted and all(s.passed or s.tolerated for s in self.scenarios)
