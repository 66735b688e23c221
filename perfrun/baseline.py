"""Baselines and regressions: compare a run's figures with an earlier run's, or with the
median of the last comparable runs kept in a history file.

Everything is read from the JSON report's shape (`perfrun.report.json_report.to_dict`),
whether the run is in memory, saved as a report, or summarised in the history, so there
is one reading path. The comparison itself is pure; the small readers and the history
writer are the only I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrun.errors import ReportError, UsageError
from perfrun.report.json_report import to_dict
from perfrun.report.model import BaselineSummary, Comparison, MetricChange, RunReport
from perfrun.scenario.model import Threshold
from perfrun.thresholds import Verdict, judge

DEFAULT_TOLERANCE_PERCENT = 10.0
HISTORY_FILE = "perfrun-history.jsonl"
HISTORY_RUNS = 5
"""How many of the latest comparable runs the history baseline takes the median of."""
MIN_ERROR_RATE_CHANGE_PP = 0.5
"""The error rate (%) must move by more than this many percentage points, whatever the
tolerance, to count as a change: a relative tolerance means nothing against a baseline of
0 %, and one stray error in a 200-request run is not a regression."""
MIN_LATENCY_CHANGE_MS = 1.0
"""A latency must also move by at least this much to count as a change: run-to-run noise
on a millisecond-fast endpoint easily exceeds 10 %, and the generator's own error is
about 1 ms (README, Figures)."""
MIN_TAIL_SAMPLES = 10
"""A percentile is compared only when both runs have at least this many requests beyond it:
p50 needs 20 requests, p95 200, p99 1000. Below that a percentile is one or two requests'
luck (the p99 of 40 requests is their slowest), and it would fail runs at random."""

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not_comparable"

_COMPLETED = "completed"


@dataclass(frozen=True)
class Metric:
    """One compared figure: where it is in a JSON-report scenario, and which way is worse."""

    name: str
    path: tuple[str, ...]
    verdict_metric: str
    """The metric name its regression verdict carries (as in perfrun.thresholds)."""
    higher_is_worse: bool
    unit: str
    percentile: float | None = None
    """For a latency percentile, which one: its comparison needs enough requests."""

    def min_samples(self) -> int:
        """How many requests a run needs for this metric to be compared (MIN_TAIL_SAMPLES
        beyond a percentile; one for the others)."""
        if self.percentile is None:
            return 1
        return math.ceil(MIN_TAIL_SAMPLES * 100 / (100 - self.percentile) - 1e-9)


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
    medians the fewest of the runs taken. None when unknown: then it is not checked."""

    def value(self, metric: str) -> float | None:
        return self.values.get(metric)


def load_key(load: Mapping[str, Any]) -> str:
    """A stable digest of a scenario's `load` settings (as the JSON report has them)."""
    canonical = json.dumps(load, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- reading figures --------------------------------------------------------------------


def figures_from_report_dict(report: Mapping[str, Any]) -> dict[str, ScenarioFigures]:
    """The figures of every completed scenario of a JSON report, or of one history line.

    A scenario that did not complete (interrupted, unreachable, failed to start) has no
    figures worth comparing, so it counts as absent. ValueError when `report` is neither.
    """
    scenarios = report.get("scenarios")
    if isinstance(scenarios, dict):
        return _figures_from_history_entry(scenarios)
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


def _figures_from_history_entry(scenarios: Mapping[str, Any]) -> dict[str, ScenarioFigures]:
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


def load_baseline(path: Path) -> tuple[str, dict[str, ScenarioFigures]]:
    """Read a saved JSON report (or a history file) as a baseline: (source, figures).

    A history file gives, per scenario, the median of its last HISTORY_RUNS runs with the
    load settings of its latest one. UsageError, naming the file, when it cannot be used.
    """
    entries = _read_entries(path, "baseline")
    if len(entries) == 1 and not isinstance(entries[0].get("scenarios"), dict):
        try:
            return str(path), figures_from_report_dict(entries[0])
        except ValueError as exc:
            raise UsageError(f"baseline {path}: {exc}") from None
    runs = _history_runs(path, entries)
    latest = {}
    for run in runs:
        latest.update({name: f.load_key for name, f in run.items()})
    baseline = _history_medians(path, runs, latest, HISTORY_RUNS)
    return _history_source(path, baseline, HISTORY_RUNS), baseline


def _read_entries(path: Path, what: str) -> list[dict[str, Any]]:
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


# --- history ----------------------------------------------------------------------------


def history_file(target: Path) -> Path:
    """`--history` names a directory (an existing one, or a path without a suffix), which
    holds HISTORY_FILE, or the history file itself."""
    if target.is_dir() or (not target.exists() and not target.suffix):
        return target / HISTORY_FILE
    return target


def history_entry(report: RunReport) -> dict[str, Any]:
    """One run's summary as a history line holds it: completed scenarios only."""
    data = to_dict(report)
    scenarios = {
        f.name: {"load_key": f.load_key, "samples": f.samples, **f.values}
        for f in figures_from_report_dict(data).values()
    }
    return {
        "perfrun_version": data["perfrun_version"],
        "started_at": data["started_at"],
        "scenarios": scenarios,
    }


def append_history(target: Path, report: RunReport) -> Path:
    """Append the run's summary as one JSON line; returns the history file written.

    Call history_baseline first: the run must not be part of its own baseline.
    """
    path = history_file(target)
    line = json.dumps(history_entry(report), ensure_ascii=False, separators=(",", ":"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        raise ReportError(f"history {path}: cannot write: {exc.strerror or exc}") from None
    return path


def history_baseline(
    target: Path, current: Mapping[str, ScenarioFigures], last: int = HISTORY_RUNS
) -> tuple[str, dict[str, ScenarioFigures]]:
    """Per scenario of the current run, the median of each metric over the `last` history
    runs with the same name and load settings (None values ignored).

    Scenarios without comparable history are left out (the comparison lists them as only
    in the run). A missing history file is an empty history. Call it before
    append_history, so that the current run is not its own baseline.
    """
    path = history_file(target)
    runs = _history_runs(path, _read_entries(path, "history")) if path.exists() else []
    wanted = {name: f.load_key for name, f in current.items()}
    baseline = _history_medians(path, runs, wanted, last)
    return _history_source(path, baseline, last), baseline


def _history_runs(path: Path, entries: list[dict[str, Any]]) -> list[dict[str, ScenarioFigures]]:
    runs = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry.get("scenarios"), dict):
            raise UsageError(f"history {path}: entry {number} is not a perfrun history entry")
        try:
            runs.append(figures_from_report_dict(entry))
        except ValueError as exc:
            raise UsageError(f"history {path}: entry {number}: {exc}") from None
    return runs


def _history_medians(
    path: Path,
    runs: list[dict[str, ScenarioFigures]],
    wanted: Mapping[str, str],
    last: int,
) -> dict[str, ScenarioFigures]:
    """For each wanted name → load_key, the median figures of its latest `last` runs."""
    baseline = {}
    for name, key in wanted.items():
        matching = [run[name] for run in runs if name in run and run[name].load_key == key]
        matching = matching[-last:]
        if not matching:
            continue
        values = {}
        for metric in METRIC_NAMES:
            seen = [v for f in matching if (v := f.value(metric)) is not None]
            values[metric] = statistics.median(seen) if seen else None
        counts = [f.samples for f in matching if f.samples is not None]
        baseline[name] = ScenarioFigures(
            name=name,
            load_key=key,
            values=values,
            source=f"history {path} (median of {_runs(len(matching))})",
            samples=min(counts) if counts else None,
        )
    return baseline


def _history_source(path: Path, baseline: Mapping[str, ScenarioFigures], last: int) -> str:
    """One scenario's source when all agree, else the rule that made them."""
    sources = {f.source for f in baseline.values()}
    if len(sources) == 1:
        return sources.pop()
    return f"history {path} (median of up to {_runs(last)} with the same load settings)"


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"


# --- comparing --------------------------------------------------------------------------


def parse_tolerance(text: str) -> float:
    """`10%`, `10` or `2.5%` → 10.0 / 10.0 / 2.5 (percent); ValueError otherwise."""
    raw = text.strip()
    number = raw.removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a tolerance: use a percentage like 10%") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a tolerance: it must be a percentage >= 0")
    return value


def compare(
    current: Mapping[str, ScenarioFigures],
    baseline: Mapping[str, ScenarioFigures],
    tolerances: Mapping[str, Mapping[str, float]],
    default_tolerance: float = DEFAULT_TOLERANCE_PERCENT,
    source: str = "",
) -> tuple[BaselineSummary, dict[str, tuple[Comparison, tuple[Verdict, ...]]]]:
    """Compare every scenario present in both, metric by metric.

    `tolerances` is scenario → metric → percent (the scenario's `regression:` block);
    others use `default_tolerance`. A metric worse than its baseline by more than the
    tolerance is a regression and its verdict (`regression.p95`, ...) fails; better by
    more than that is an improvement. A metric missing on either side, or with a
    baseline of 0 (except the error rate, see MIN_ERROR_RATE_CHANGE_PP), is not
    comparable and gets no verdict. Scenarios whose load settings differ from the
    baseline's are not compared (every metric not comparable; the comparison's source
    says why). Scenarios in only one run are listed in the summary, not failed.
    """
    summary = BaselineSummary(
        source=source,
        only_in_baseline=tuple(sorted(set(baseline) - set(current))),
        only_in_run=tuple(sorted(set(current) - set(baseline))),
    )
    results: dict[str, tuple[Comparison, tuple[Verdict, ...]]] = {}
    for name in sorted(set(current) & set(baseline)):
        cur, base = current[name], baseline[name]
        where = base.source or source
        scenario_tolerances = tolerances.get(name, {})
        if cur.load_key != base.load_key:
            changes = tuple(
                MetricChange(
                    metric=m.name,
                    baseline=base.value(m.name),
                    current=cur.value(m.name),
                    change_percent=None,
                    tolerance_percent=scenario_tolerances.get(m.name, default_tolerance),
                    status=NOT_COMPARABLE,
                )
                for m in METRICS
            )
            note = f"{where}: load settings differ, not compared"
            results[name] = (Comparison(source=note, changes=changes), ())
            continue
        pairs = [
            _compare_metric(
                m,
                cur,
                base,
                float(scenario_tolerances.get(m.name, default_tolerance)),
                where,
            )
            for m in METRICS
        ]
        changes = tuple(change for change, _ in pairs)
        verdicts = tuple(verdict for _, verdict in pairs if verdict is not None)
        results[name] = (Comparison(source=where, changes=changes), verdicts)
    return summary, results


def _compare_metric(
    metric: Metric,
    now: ScenarioFigures,
    then: ScenarioFigures,
    tolerance: float,
    source: str,
) -> tuple[MetricChange, Verdict | None]:
    current, baseline = now.value(metric.name), then.value(metric.name)

    def change(status: str, percent: float | None = None, note: str = "") -> MetricChange:
        return MetricChange(metric.name, baseline, current, percent, tolerance, status, note)

    if current is None or baseline is None:
        return change(NOT_COMPARABLE), None
    if baseline == 0 and metric.name != "error_rate":
        return change(NOT_COMPARABLE), None
    too_few = _too_few_samples(metric, now.samples, then.samples)
    if too_few:
        return change(NOT_COMPARABLE, note=too_few), None
    percent = (current - baseline) / baseline * 100.0 if baseline else None
    allowed = abs(baseline) * tolerance / 100.0
    allowance = f"tolerance {tolerance:g}%"
    if metric.name == "error_rate" and allowed < MIN_ERROR_RATE_CHANGE_PP:
        allowed = MIN_ERROR_RATE_CHANGE_PP
        allowance = f"tolerance {allowed:g} percentage points"
    elif metric.unit == "ms" and allowed < MIN_LATENCY_CHANGE_MS:
        allowed = MIN_LATENCY_CHANGE_MS
        allowance = f"tolerance {tolerance:g}%, at least {allowed:g} ms"
    worse = current - baseline if metric.higher_is_worse else baseline - current
    if worse > allowed:
        status = REGRESSION
    elif -worse > allowed:
        status = IMPROVEMENT
    else:
        status = UNCHANGED
    key = f"regression.{metric.name}"
    if metric.higher_is_worse:
        threshold = Threshold(key, metric.verdict_metric, "max", baseline + allowed)
    else:
        threshold = Threshold(key, metric.verdict_metric, "min", baseline - allowed)
    note = f"baseline {baseline:g} {metric.unit}, {allowance} ({source})"
    return change(status, percent), judge(threshold, current, note)


def _too_few_samples(metric: Metric, now: int | None, then: int | None) -> str:
    """Why a percentile of this few requests is not compared, or "" when it can be."""
    needed = metric.min_samples()
    short = [
        f"{count} in the {side}"
        for side, count in (("run", now), ("baseline", then))
        if count is not None and count < needed
    ]
    if not short:
        return ""
    return (
        f"too few requests to compare a {metric.name}: {' and '.join(short)}, "
        f"it needs {needed} ({MIN_TAIL_SAMPLES} beyond it)"
    )


def apply_comparison(
    report: RunReport,
    summary: BaselineSummary,
    per_scenario: Mapping[str, tuple[Comparison, tuple[Verdict, ...]]],
) -> RunReport:
    """The report with each compared scenario's comparison set, its regression verdicts
    added to its thresholds (a failed one fails the scenario), and the baseline summary.
    Apply before apply_fail_on, which must see the final pass/fail."""
    scenarios = []
    for s in report.scenarios:
        if s.name in per_scenario:
            comparison, verdicts = per_scenario[s.name]
            s = dataclasses.replace(
                s,
                comparison=comparison,
                thresholds=(*s.thresholds, *verdicts),
                passed=s.passed and all(v.passed for v in verdicts),
            )
        scenarios.append(s)
    return dataclasses.replace(report, scenarios=tuple(scenarios), baseline=summary)


def compare_reports(
    old: Path, new: Path, default_tolerance: float = DEFAULT_TOLERANCE_PERCENT
) -> tuple[BaselineSummary, dict[str, Comparison]]:
    """Two saved reports side by side (nothing is run): `new` against `old`."""
    source, baseline = load_baseline(old)
    _, current = load_baseline(new)
    summary, results = compare(current, baseline, {}, default_tolerance, source)
    return summary, {name: comparison for name, (comparison, _) in results.items()}
