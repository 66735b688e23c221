"""The report puts the monitor's samples on the load's time axis. Pure: a monitor result
and a scenario outcome built by hand, no process and no clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from perfrun.execution.monitor import MonitorResult
from perfrun.execution.outcome import ScenarioOutcome
from perfrun.judge.build import measure_scenario
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import ScenarioStatus
from tests.support.factories import sample as a_sample
from tests.support.perfrun_cli import scenario, write_scenarios


def test_a_reports_samples_are_timed_from_the_loads_start(tmp_path: Path) -> None:
    # The monitor starts 0.25 s before the load (with workers, their spawning lies between):
    # in the report, samples share the timeline's axis, which starts with the load.
    path = write_scenarios(tmp_path, {"s": scenario("http://127.0.0.1:1", users=1)})
    (spec,) = load_file(path)
    monitor = MonitorResult(
        target_pid=None,
        target_name=None,
        target_lost=False,
        interval=1.0,
        samples=(a_sample(1.0), a_sample(2.0), a_sample(2.6)),
        overhead_cpu_seconds=0.0,
        wall_seconds=2.6,
        started=100.0,
    )
    now = datetime.now(UTC)
    outcome = ScenarioOutcome(
        spec, "http://127.0.0.1:1", "fast", now, now, ScenarioStatus.COMPLETED, "",
        ScenarioStats(origin=100.25), monitor,
    )  # fmt: skip
    report = measure_scenario(outcome)
    assert report.resources is not None
    assert [s.t for s in report.resources.samples] == [0.75, 1.75, 2.35]
