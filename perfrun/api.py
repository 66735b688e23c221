"""perfrun from Python: `perfrun.run(...)` runs scenarios and returns the judged report.

The command line's run without the command line: the same loader, selection, engines,
judgement and report files, and no exit codes. Input problems raise `PerfrunError`
(`ScenarioError` for a scenario, `UsageError` for an option) before any load is sent::

    import perfrun

    def test_health_under_load(service_url):
        report = perfrun.run(
            {"scenarios": {"health": {
                "base_url": service_url,
                "requests": [{"path": "/health"}],
                "load": {"users": 10, "duration": "5s"},
                "thresholds": {"max_p95_response_ms": 200},
            }}},
            html="health.html",
        )
        assert report.passed, report.scenarios[0].thresholds
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from perfrun.app import Outputs, RunConfig, Selection, check_outputs, publish
from perfrun.app import run as run_config
from perfrun.errors import UsageError
from perfrun.execution.outcome import Progress, RunOptions
from perfrun.report.model import RunReport
from perfrun.report.progress import QuietProgress
from perfrun.scenario.loader import LoadOverrides
from perfrun.scenario.model import EngineChoice, Scenario, Severity
from perfrun.scenario.units import parse_base_url

T = TypeVar("T")

ScenarioSource = str | os.PathLike[str] | Mapping[str, Any] | Scenario | Iterable[Scenario]
"""A directory or file of scenario YAML, a dict shaped as a scenario file
(`{"scenarios": {NAME: {...}}}`), or `Scenario` objects."""


def run(
    scenarios: ScenarioSource = "scenarios",
    *,
    names: Sequence[str] = (),
    types: Sequence[str] = (),
    severities: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    users: int | None = None,
    duration: str | None = None,
    rate: str | None = None,
    iterations: int | None = None,
    base_url: str | None = None,
    engine: str | None = None,
    workers: int = 1,
    output: str | os.PathLike[str] | None = None,
    html: str | os.PathLike[str] | None = None,
    junit: str | os.PathLike[str] | None = None,
    markdown: str | os.PathLike[str] | None = None,
    fail_on: str = "low",
    fail_on_warn: bool = False,
    fail_on_saturation: bool = False,
    progress: Progress | None = None,
) -> RunReport:
    """Run scenarios and return the judged report (`report.passed` is the verdict).

    The keywords are the command line's options of the same names (`perfrun --help`):
    `names`, `types`, `severities` select; `users`, `duration`, `rate`, `iterations`
    override the load; `env` sets `${KEY}`; report files are written only when a path is
    given. `progress` receives live figures (see `perfrun.execution.outcome.Progress`); none
    are printed by default. Ctrl-C ends the run early with `report.interrupted` set.
    """
    if workers < 1:
        raise UsageError(f"workers={workers!r}: must be 1 or more")
    outputs = Outputs(
        json=_path(output),
        html=_path(html),
        junit=_path(junit),
        markdown=_path(markdown),
    )
    source = _source(scenarios)
    config = RunConfig(
        selection=replace(
            source,
            names=tuple(names),
            types=tuple(types),
            severities=tuple(severities),
            env=dict(env or {}),
            load=LoadOverrides(users, duration, rate, iterations),
        ),
        options=RunOptions(
            base_url=_checked(base_url, "base_url", parse_base_url),
            engine=_checked(engine, "engine", EngineChoice),
            workers=workers,
        ),
        outputs=outputs,
        fail_on=_checked(fail_on, "fail_on", Severity) or Severity.LOW,
        fail_on_warn=fail_on_warn,
        fail_on_saturation=fail_on_saturation,
    )
    check_outputs(outputs)
    report = run_config(config, progress or QuietProgress())
    publish(report, outputs, {})
    return report


def _source(source: ScenarioSource) -> Selection:
    """Where the scenarios come from: a directory or file, a document, Scenario objects."""
    if isinstance(source, str | os.PathLike):
        return Selection(directory=Path(source))
    if isinstance(source, Mapping):
        return Selection(document=source)
    given = (source,) if isinstance(source, Scenario) else tuple(source)
    if not given:
        raise UsageError("no scenarios given: pass a path, a dict or Scenario objects")
    return Selection(scenarios=given)


def _checked(value: str | None, name: str, parse: Callable[[str], T]) -> T | None:
    """A keyword's value as the command line would take it; UsageError naming it."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise UsageError(f"{name}={value!r}: {exc}") from None


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)
