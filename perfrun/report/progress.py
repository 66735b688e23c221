"""Live progress while scenarios run: a rich live line on a terminal, plain periodic
lines elsewhere (CI logs), nothing with --quiet. Renders figures, computes none."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from perfrun.execution.outcome import ScenarioOutcome, Snapshot
from perfrun.report.text import describe_load, fmt_number
from perfrun.scenario.model import Scenario, ScenarioStatus

PLAIN_EVERY = 5.0
"""Seconds between plain progress lines."""


def _status_line(snapshot: Snapshot) -> str:
    if snapshot.expected_requests:
        share = min(snapshot.done / snapshot.expected_requests, 1.0)
        done = f"{snapshot.done}/{snapshot.expected_requests} req ({share:.0%})"
    else:
        total = snapshot.expected_duration or 0.0
        done = f"{snapshot.elapsed:.0f}/{total:.0f}s, {snapshot.done} req"
    parts = [
        ("warm-up · " if snapshot.warming_up else "") + done,
        f"{fmt_number(snapshot.rps, 0)} req/s",
        f"p95 {fmt_number(snapshot.p95_ms)} ms",
        f"errors {snapshot.errors}",
    ]
    sample = snapshot.resources
    if sample is not None and sample.target_cpu_percent is not None:
        parts.append(
            f"target CPU {fmt_number(sample.target_cpu_percent, 0)}% "
            f"RSS {fmt_number(sample.target_memory_mb, 0)} MB"
        )
    return " · ".join(parts)


def _finished_line(outcome: ScenarioOutcome) -> str:
    overall = outcome.stats.overall
    if outcome.status is not ScenarioStatus.COMPLETED:
        said = f"{outcome.status}: "  # once, also when the message starts with it
        message = outcome.message.removeprefix(said)
        return f"{outcome.scenario.name}: {said}{message}"
    return (
        f"{outcome.scenario.name}: done, {overall.total} requests, "
        f"{overall.failed} failed, in {outcome.stats.window:.1f}s"
    )


class QuietProgress:
    """--quiet: nothing until the summary."""

    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None:
        pass

    def update(self, snapshot: Snapshot) -> None:
        pass

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        pass


class PlainProgress:
    """Line-oriented progress for logs: one line per scenario start/end, and one every
    PLAIN_EVERY seconds in between."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._name = ""
        self._last = 0.0

    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None:
        self._name = scenario.name
        self._last = time.monotonic()
        self._console.print(
            f"[{index + 1}/{count}] {scenario.name}: {describe_load(scenario)} → {url}",
            highlight=False,
            markup=False,
        )

    def update(self, snapshot: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY:
            self._last = now
            self._console.print(
                f"  {self._name}: {_status_line(snapshot)}", highlight=False, markup=False
            )

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        self._console.print(f"  {_finished_line(outcome)}", highlight=False, markup=False)


class LiveProgress:
    """A live-updating status line per running scenario, on a terminal."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live: Live | None = None
        self._name = ""

    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None:
        self._name = scenario.name
        self._console.print(
            Text.assemble(
                (f"[{index + 1}/{count}] ", "dim"),
                (scenario.name, "bold"),
                f": {describe_load(scenario)} → {url}",
            )
        )
        self._live = Live(
            Text("  starting…"), console=self._console, auto_refresh=False, transient=True
        )
        self._live.start()

    def update(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(Text(f"  {_status_line(snapshot)}"), refresh=True)

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        style = "green" if outcome.status is ScenarioStatus.COMPLETED else "yellow"
        self._console.print(Text(f"  {_finished_line(outcome)}", style=style))
