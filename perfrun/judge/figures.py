"""The figures runs are compared on: read from the typed report model for this run, and
from a saved report's JSON (or a history line) for earlier ones, along the same registry
paths (perfrun.scenario.metrics), so a run and its baseline are read alike.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from perfrun.report.codec import clean
from perfrun.report.model import RunReport, ScenarioReport
from perfrun.scenario.metrics import COMPARED
from perfrun.scenario.model import LoadModel, LoadSpec, ScenarioStatus

SAMPLES_PATH = ("requests", "succeeded")
"""Where a scenario report says how many requests its latency figures stand on."""


@dataclass(frozen=True)
class ScenarioFigures:
    """The compared figures of one scenario of one run (or a median of several runs)."""

    name: str
    load_key: str
    """A digest of the scenario's load settings: runs are comparable when the name and
    this key are the same."""
    values: Mapping[str, float | None]
    """Regression name (`p95`, `rps`, see perfrun.scenario.metrics.COMPARED) → value;
    None when not measured."""
    source: str = ""
    """Where these figures came from, when it differs per scenario (history medians)."""
    samples: int | None = None
    """How many requests the latency figures stand on (the successful ones); for history
    medians the fewest of the runs taken (lines written before perfrun stored it have
    none, and are left out of that). None when unknown: then it is not checked."""

    def value(self, metric: str) -> float | None:
        return self.values.get(metric)


@dataclass(frozen=True)
class Baseline:
    """What a run is compared with: per scenario name, earlier figures."""

    source: str
    """A report file, or the history's median (with the file's name)."""
    figures: Mapping[str, ScenarioFigures]


def load_settings(load: LoadSpec) -> dict[str, object]:
    """The load settings as run, with times in seconds: the report's `load`, and what
    decides whether two runs of a scenario are comparable."""
    settings: dict[str, object] = {"model": load.model.value}
    if load.model is LoadModel.OPEN:
        settings.update(
            rate=load.rate, arrival=load.arrival.value, max_in_flight=load.max_in_flight
        )
    else:
        settings.update(
            users=load.users,
            requests_per_user=load.requests_per_user,
            ramp_up_s=load.ramp_up,
            think_time_s=load.think_time,
        )
    if load.stages:
        settings["start"] = load.start
        settings["stages"] = [asdict(stage) for stage in load.stages]
    settings.update(duration_s=load.duration, warmup_s=load.warmup, timeout_s=load.timeout)
    if load.cycles > 1 or load.rest:
        # Only then: a load without cycles keeps the settings (and the key) it had.
        settings.update(cycles=load.cycles, rest_s=load.rest)
    return settings


def load_key(load: Mapping[str, Any]) -> str:
    """A stable digest of a scenario's load settings, as the report has them (rounded as
    the JSON report writes them, so a saved report gives the same key)."""
    canonical = json.dumps(clean(dict(load)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def figures_of(report: RunReport) -> dict[str, ScenarioFigures]:
    """The figures of every completed scenario of a run."""
    return {
        s.name: scenario_figures(s)
        for s in report.scenarios
        if s.status is ScenarioStatus.COMPLETED
    }


def scenario_figures(s: ScenarioReport) -> ScenarioFigures:
    """One scenario's figures, rounded as the JSON report writes them: a run and its saved
    report give the same figures."""
    return ScenarioFigures(
        name=s.name,
        load_key=load_key(s.load),
        values={name: _number(clean(_lookup(s, m.path))) for name, m in COMPARED.items()},
        samples=_count(_lookup(s, SAMPLES_PATH)),
    )


def figures_from_report_dict(report: Mapping[str, Any]) -> dict[str, ScenarioFigures]:
    """The figures of every completed scenario of a saved JSON report, or of one history
    line.

    A scenario that did not complete (interrupted, unreachable, failed to start) has no
    figures worth comparing, so it counts as absent. ValueError when `report` is neither.
    """
    scenarios = report.get("scenarios")
    if isinstance(scenarios, dict):
        return _figures_from_history_line(scenarios)
    if not isinstance(scenarios, list) or "perfrun_version" not in report:
        raise ValueError("not a perfrun JSON report (no perfrun_version and scenarios list)")
    figures = {}
    for scenario in scenarios:
        if not isinstance(scenario, dict) or not isinstance(scenario.get("name"), str):
            raise ValueError("not a perfrun JSON report (a scenario without a name)")
        if scenario.get("status") != ScenarioStatus.COMPLETED:
            continue
        load = scenario.get("load")
        figures[scenario["name"]] = ScenarioFigures(
            name=scenario["name"],
            load_key=load_key(load if isinstance(load, dict) else {}),
            values={name: _number(_lookup(scenario, m.path)) for name, m in COMPARED.items()},
            samples=_count(_lookup(scenario, SAMPLES_PATH)),
        )
    return figures


def _figures_from_history_line(scenarios: Mapping[str, Any]) -> dict[str, ScenarioFigures]:
    figures = {}
    for name, entry in scenarios.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("load_key"), str):
            raise ValueError(f"history entry for {name!r} has no load_key")
        figures[name] = ScenarioFigures(
            name=name,
            load_key=entry["load_key"],
            values={m: _number(entry.get(m)) for m in COMPARED},
            samples=_count(entry.get("samples")),
        )
    return figures


def _lookup(data: object, path: Iterable[str]) -> Any:
    """Follow `path` through attributes (the report model) or keys (its JSON form)."""
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)
        if value is None:
            return None
    return value


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
