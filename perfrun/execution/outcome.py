"""What running scenarios produces, before any judgement: the options every scenario takes
from the command line, live snapshots for a progress display, and each scenario's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from perfrun.engine.backoff import Backoffs
from perfrun.execution.monitor import MonitorResult
from perfrun.metrics.resources import Sample
from perfrun.metrics.stats import LiveLatency, ScenarioStats
from perfrun.metrics.windows import WindowWatch
from perfrun.scenario.model import EngineChoice, Scenario, ScenarioStatus


class OutKind(StrEnum):
    """Where `--out KIND=WHERE` sends the run's data as it is measured."""

    CSV = "csv"
    """Per-second figures per endpoint, to a file."""
    JSONL = "jsonl"
    """Every request's result as one JSON line, to a file (gzipped when it ends in .gz)."""
    PROMETHEUS = "prometheus"
    """Live counters and latency histograms served at HOST:PORT for a scraper."""
    OTLP = "otlp"
    """OpenTelemetry metrics pushed to an OTLP/HTTP URL."""


@dataclass(frozen=True)
class DataOut:
    """One `--out KIND=WHERE`."""

    kind: OutKind
    where: str
    """A file path (csv, jsonl), HOST:PORT (prometheus) or a URL (otlp)."""


@dataclass(frozen=True)
class RunOptions:
    """What the command line can override for every scenario."""

    base_url: str | None = None
    monitor_pid: int | None = None
    engine: EngineChoice | None = None
    """Overrides every scenario's `engine`."""
    workers: int = 1
    insecure: bool = False
    """Do not check servers' certificates (--insecure)."""
    cluster: str | None = None
    """--cluster: a Dask scheduler's address, or local:N (see perfrun.execution.cluster)."""
    data_out: tuple[DataOut, ...] = ()
    """--out: where the run's data goes as it is measured, besides the reports."""
    http_debug: int = 0
    """--http-debug=N: print the first N requests' and responses' heads (0: none)."""
    http_debug_bodies: bool = False
    """--http-debug-bodies: with --http-debug, their bodies too (bounded)."""
    target_log: Path = Path("perfrun-report.target.log")
    """Where a launched target's output goes (`<report stem>.target.log`; a second
    target's is `.target-2.log`, and so on)."""


@dataclass(frozen=True)
class ShareEvidence:
    """What one share tells of its own run, for the report and the saturation guard."""

    index: int
    worker: str
    """The Dask worker's address."""
    host: str
    load: str
    """Its part of the load, in words: which users, or which scheduled requests."""
    requests: int
    cpu_percent: float | None
    """Its worker process's CPU over its run, % of one core."""
    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    sent: int
    late: int
    """Sent late for perfrun's own reasons (open model)."""
    clock_offset_ms: float
    """Its clock against the scheduler's, as Dask measured it (positive: behind)."""
    lost: bool = False
    """Its worker left mid-run: its figures are missing."""
    start_late_ms: float = 0.0
    """How long after the common start its task reached its worker (0: in time)."""


@dataclass(frozen=True)
class TargetRun:
    """The target perfrun launched for a scenario (`target:`), and whether it exited."""

    pid: int
    command: tuple[str, ...]
    log: Path
    scope: str
    exit_code: int | None = None
    """Its exit code when it ended during the scenario (negative: killed by a signal)."""
    exited_after_s: float | None = None
    """When it ended, in seconds since the load started (the timeline's axis)."""


@dataclass(frozen=True)
class Snapshot:
    """Live figures for the progress display."""

    elapsed: float
    done: int
    expected_requests: int | None
    expected_duration: float | None
    rps: float
    p95_ms: float | None
    errors: int
    resources: Sample | None
    warming_up: bool = False
    error_kinds: Mapping[str, int] = field(default_factory=dict)
    """Failed requests by error kind, warm-up included (as `done`), for the exporters."""
    latency: LiveLatency = field(default_factory=LiveLatency)
    """Successful requests' latencies, warm-up included (as `done`), for the exporters."""


@dataclass(frozen=True)
class ScenarioOutcome:
    """What running one scenario produced, before any judgement."""

    scenario: Scenario
    base_url: str
    engine: str
    started_at: datetime
    finished_at: datetime
    status: ScenarioStatus
    message: str
    stats: ScenarioStats
    monitor: MonitorResult | None
    workers: int = 1
    target: TargetRun | None = None
    windows: Mapping[str, WindowWatch] = field(default_factory=dict)
    """The `over` thresholds' windows as judged while the load ran (one process only):
    the verdicts' source once the timeline no longer keeps every second."""
    shares: tuple[ShareEvidence, ...] = ()
    """On a Dask cluster: what each share of the load told of its run."""
    cluster: str | None = None
    """The Dask scheduler's address the load ran on (None: this machine)."""
    backoffs: Backoffs = field(default_factory=Backoffs)
    """The closed model's waits for a target whose connects kept failing (see
    perfrun.engine.backoff), summed over workers and cluster shares."""


class Progress(Protocol):
    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def scenario_finished(self, outcome: ScenarioOutcome) -> None: ...
