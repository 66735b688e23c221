"""What running scenarios produces, before any judgement: the options every scenario takes
from the command line, live snapshots for a progress display, and each scenario's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from perfrun.metrics.resources import Sample
from perfrun.metrics.stats import ScenarioStats
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


class Progress(Protocol):
    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def scenario_finished(self, outcome: ScenarioOutcome) -> None: ...
