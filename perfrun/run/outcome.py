"""What running scenarios produces, before any judgement: the options every scenario takes
from the command line, live snapshots for a progress display, and each scenario's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from perfrun.metrics.resources import Sample
from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.windows import WindowWatch
from perfrun.run.monitor import MonitorResult
from perfrun.scenario.model import EngineChoice, Scenario, ScenarioStatus


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
    target_log: Path = Path("perfrun-report.target.log")
    """Where a launched target's output goes (`<report stem>.target.log`; a second
    target's is `.target-2.log`, and so on)."""


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


class Progress(Protocol):
    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def scenario_finished(self, outcome: ScenarioOutcome) -> None: ...
