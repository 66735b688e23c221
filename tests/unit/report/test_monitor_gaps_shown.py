"""The monitor's gaps (samples it could not take) reach the console and the JSON. Pure."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from perfrun.report.codec import to_dict
from perfrun.report.console import render_summary
from perfrun.report.model import RunReport
from perfrun.scenario.model import Severity
from tests.support.factories import resources, scenario_report

START = datetime(2026, 12, 1, tzinfo=UTC)


def run_with(gaps: int, reason: str | None) -> RunReport:
    monitored = dataclasses.replace(resources(), gaps=gaps, gap_reason=reason)
    s = scenario_report(resources=monitored)
    return RunReport("0.1.0", START, START + timedelta(seconds=5), {}, False, (s,), Severity.LOW)


def console_text(run: RunReport) -> str:
    out = io.StringIO()
    render_summary(run, Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_gaps_are_said_and_kept() -> None:
    run = run_with(3, "OSError: [Errno 24] Too many open files")
    assert "monitor: 3 sample(s) could not be taken" in console_text(run)
    assert "Too many open files" in console_text(run)
    monitor = to_dict(run)["scenarios"][0]["resources"]["monitor"]
    assert (monitor["gaps"], monitor["gap_reason"]) == (
        3,
        "OSError: [Errno 24] Too many open files",
    )


def test_no_gap_no_line() -> None:
    run = run_with(0, None)
    assert "monitor:" not in console_text(run)
    assert to_dict(run)["scenarios"][0]["resources"]["monitor"]["gaps"] == 0
