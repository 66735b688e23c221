"""The figures runs are compared on, read from a JSON report's shape.

Whether a run is in memory (through `perfrun.report.codec.to_dict`), saved as a
report, or summarised as a line of the history, its figures are read here, so there is one
reading path for baselines (perfrun.judge.baseline) and the history (perfrun.judge.history).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrun.errors import UsageError
from perfrun.report.codec import to_dict
from perfrun.report.model import RunReport

_COMPLETED = "completed"


@dataclass(frozen=True)
class Metric:
    """One compared figure: where it is in a JSON-report scenario, and which way is worse."""

    name: str
    path: tuple[str, ...]
    verdict_metric: str
    """The metric name its regression verdict carries (as in perfrun.judge.thresholds)."""
    higher_is_worse: bool
    unit: str
    percentile: float | None = None
    """For a latency percentile, which one: its comparison needs enough requests."""

    def __post_init__(self) -> None:
        if self.percentile is not None and not 0 < self.percentile < 100:
            raise ValueError(f"{self.name}: a percentile is between 0 and 100 (exclusive)")


METRICS: tuple[Metric, ...] = (
    Metric("p50", ("latency_ms", "p50"), "latency_p50_ms", True, "ms", 50.0),
    Metric("p95", ("latency_ms", "p95"), "latency_p95_ms", True, "ms", 95.0),
    Metric("p99", ("latency_ms", "p99"), "latency_p99_ms", True, "ms", 99.0),
    Metric("avg", ("latency_ms", "avg"), "latency_avg_ms", True, "ms"),
    Metric("rps", ("requests", "rps"), "rps", False, "req/s"),
    Metric("error_rate", ("requests", "error_rate"), "error_rate", True, "%"),
    Metric("memory_mb", ("resources", "target", "memory_mb", "max"), "memory_mb", True, "MB"),
)
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
SAMPLES_PATH = ("requests", "succeeded")
"""Where a JSON-report scenario says how many requests its latency figures stand on."""


@dataclass(frozen=True)
class ScenarioFigures:
    """The compared figures of one scenario of one run (or a median of several runs)."""

    name: str
    load_key: str
    """A digest of the scenario's load settings: runs are comparable when the name and
    this key are the same."""
    values: Mapping[str, float | None]
    """Metric name (see METRICS) → value; None when not measured."""
    source: str = ""
    """Where these figures came from, when it differs per scenario (history medians)."""
    samples: int | None = None
    """How many requests the latency figures stand on (the successful ones); for history
    medians the fewest of the runs taken (lines written before perfrun stored it have
    none, and are left out of that). None when unknown: then it is not checked."""

    def value(self, metric: str) -> float | None:
        return self.values.get(metric)


def load_key(load: Mapping[str, Any]) -> str:
    """A stable digest of a scenario's `load` settings (as the JSON report has them)."""
    canonical = json.dumps(load, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def figures_from_report_dict(report: Mapping[str, Any]) -> dict[str, ScenarioFigures]:
    """The figures of every completed scenario of a JSON report, or of one history line.

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
        if scenario.get("status") != _COMPLETED:
            continue
        load = scenario.get("load")
        figures[scenario["name"]] = ScenarioFigures(
            name=scenario["name"],
            load_key=load_key(load if isinstance(load, dict) else {}),
            values={m.name: _number(_lookup(scenario, m.path)) for m in METRICS},
            samples=_count(_lookup(scenario, SAMPLES_PATH)),
        )
    return figures


def figures_from_run(report: RunReport) -> dict[str, ScenarioFigures]:
    """The figures of an in-memory run, read through its JSON form."""
    return figures_from_report_dict(to_dict(report))


def _figures_from_history_line(scenarios: Mapping[str, Any]) -> dict[str, ScenarioFigures]:
    figures = {}
    for name, entry in scenarios.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("load_key"), str):
            raise ValueError(f"history entry for {name!r} has no load_key")
        figures[name] = ScenarioFigures(
            name=name,
            load_key=entry["load_key"],
            values={m: _number(entry.get(m)) for m in METRIC_NAMES},
            samples=_count(entry.get("samples")),
        )
    return figures


def _lookup(data: Mapping[str, Any], path: Iterable[str]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def read_entries(path: Path, what: str) -> list[dict[str, Any]]:
    """A JSON object, or JSON lines (one object per line); UsageError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"{what} {path}: cannot read: {reason}") from None
    if not text.strip():
        raise UsageError(f"{what} {path}: the file is empty")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if whole is not None:
        if not isinstance(whole, dict):
            raise UsageError(f"{what} {path}: not a perfrun JSON report")
        return [whole]
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{what} {path}:{number}: invalid JSON: {exc.msg}") from None
        if not isinstance(entry, dict):
            raise UsageError(f"{what} {path}:{number}: not a perfrun history entry")
        entries.append(entry)
    return entries
