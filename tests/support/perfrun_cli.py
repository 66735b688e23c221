"""Helpers for the tests that run perfrun: scenarios as a user writes them, the CLI run's
result, and small readers of what a run printed or a target saw."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from tests.servers.launch import TargetProcess

REPORT_NAME = "report.json"
SCENARIOS_DIR = "scenarios"


class PerfrunRun(NamedTuple):
    exit_code: int
    output: str
    """stdout and stderr as printed, interleaved."""
    report: dict[str, Any] | None
    """The JSON report, None when none was written."""


RunPerfrun = Callable[..., PerfrunRun]
StartTarget = Callable[..., TargetProcess]


def scenario(
    base_url: str,
    *,
    type: str = "load",
    severity: str = "low",
    requests: list[dict[str, Any]] | None = None,
    users: int = 1,
    requests_per_user: int | None = None,
    duration: str | None = None,
    thresholds: Mapping[str, Any] | str = "none",
    monitor: Mapping[str, Any] | None = None,
    **load: Any,
) -> dict[str, Any]:
    """One scenario as the YAML mapping a user would write; 1 request per user by default."""
    if requests_per_user is None and duration is None:
        requests_per_user = 1
    closed: dict[str, Any] = {"users": users, **load}
    if requests_per_user is not None:
        closed["requests_per_user"] = requests_per_user
    if duration is not None:
        closed["duration"] = duration
    return scenario_with_load(
        base_url,
        closed,
        type=type,
        severity=severity,
        requests=requests,
        thresholds=thresholds,
        monitor=monitor,
    )


def scenario_with_load(
    base_url: str,
    load: Mapping[str, Any],
    *,
    type: str = "load",
    severity: str = "low",
    requests: list[dict[str, Any]] | None = None,
    thresholds: Mapping[str, Any] | str | None = "none",
    monitor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One scenario with its `load:` mapping exactly as given: any model, e.g.
    `{"rate": 200, "duration": "5s"}` (open) or `{"stages": [...]}`.

    `thresholds` default to `none`: a test whose point is not a verdict says so rather
    than being judged on its type's defaults (None: no key, so the defaults)."""
    body: dict[str, Any] = {
        "type": type,
        "severity": severity,
        "base_url": base_url,
        "requests": requests or [{"name": "get", "path": "/"}],
        "load": dict(load),
    }
    if thresholds is not None:
        body["thresholds"] = thresholds if isinstance(thresholds, str) else dict(thresholds)
    if monitor is not None:
        body["monitor"] = dict(monitor)
    return body


def write_scenarios(directory: Path, scenarios: Mapping[str, Any] | str) -> Path:
    """Write a scenario file (a name → scenario mapping, or raw YAML text) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (
        scenarios
        if isinstance(scenarios, str)
        else yaml.safe_dump({"scenarios": scenarios}, sort_keys=False)
    )
    path = directory / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def only_scenario(report: dict[str, Any] | None) -> dict[str, Any]:
    """The report's one scenario (fails when no report was written or it has several)."""
    assert report is not None, "no report was written"
    scenarios: list[dict[str, Any]] = report["scenarios"]
    (single,) = scenarios
    return single


class ArrivalStats(NamedTuple):
    requests: int
    """Requests the target read, answered or not."""
    gap_spread: float
    """Interquartile range / median of the gaps between arrivals: ~0 evenly spaced, 1.58
    for Poisson (exponential gaps: (ln 4 - ln 4/3) / ln 2)."""


def arrival_stats(process: TargetProcess) -> ArrivalStats:
    """Stop a target started with `--arrival-stats` and read what it saw."""
    process.stop()
    lines = dict(line.split(" ", 1) for line in process.stderr_text().splitlines() if " " in line)
    return ArrivalStats(int(lines["REQUESTS"]), float(lines["GAP_SPREAD"]))


def flat(output: str) -> str:
    """Output with line breaks removed: rich wraps long lines, even inside words."""
    return output.replace("\n", "")


def run_module(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """`python -m perfrun ARGS` as a subprocess, text output captured."""
    return subprocess.run(
        [sys.executable, "-m", "perfrun", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
