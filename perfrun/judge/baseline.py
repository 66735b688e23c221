"""Baselines and regressions: compare a run's figures (perfrun.judge.figures) with an earlier
run's, or with the median of the last comparable runs of the history (perfrun.judge.history).

The comparison is pure; reading a baseline file is the only I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from perfrun.errors import UsageError
from perfrun.judge.figures import Baseline, ScenarioFigures, figures_from_report_dict
from perfrun.judge.history import HISTORY_RUNS, history_medians, history_runs, history_source
from perfrun.judge.thresholds import judge
from perfrun.report.codec import read_entries
from perfrun.report.model import BaselineSummary, ChangeStatus, Comparison, MetricChange, Verdict
from perfrun.scenario.metrics import COMPARED, Metric
from perfrun.scenario.model import Threshold

DEFAULT_TOLERANCE_PERCENT = 10.0
MIN_ERROR_RATE_CHANGE_PP = 0.5
"""The error rate (%) must move by more than this many percentage points, whatever the
tolerance, to count as a change: a relative tolerance means nothing against a baseline of
0 %, and one stray error in a 200-request run is not a regression."""
MIN_LATENCY_CHANGE_MS = 1.0
"""A latency must also move by at least this much to count as a change: run-to-run noise
on a millisecond-fast endpoint easily exceeds 10 %, and the generator's own error is
about 1 ms (docs/benchmarks.md)."""
MIN_TAIL_SAMPLES = 10
"""A percentile is compared only when both runs have at least this many requests beyond it:
p50 needs 20 requests, p95 200, p99 1000. Below that a percentile is one or two requests'
luck (the p99 of 40 requests is their slowest), and it would fail runs at random."""


def min_samples(metric: Metric) -> int:
    """How many successful requests a run needs for `metric` to be compared: MIN_TAIL_SAMPLES
    beyond a percentile; none for the others (a run whose every request failed still has an
    error rate and a req/s to compare, and they are what regressed)."""
    if metric.percentile is None:
        return 0
    return math.ceil(MIN_TAIL_SAMPLES * 100 / (100 - metric.percentile) - 1e-9)


def load_baseline(path: Path) -> Baseline:
    """Read a saved JSON report (or a history file) as a baseline.

    A history file gives, per scenario, the median of its last HISTORY_RUNS runs with the
    load settings of its latest one. UsageError, naming the file, when it cannot be used.
    """
    entries = read_entries(path, "baseline")
    if len(entries) == 1 and not isinstance(entries[0].get("scenarios"), dict):
        try:
            return Baseline(str(path), figures_from_report_dict(entries[0]))
        except ValueError as exc:
            raise UsageError(f"baseline {path}: {exc}") from None
    runs = history_runs(path, entries)
    latest = {}
    for run in runs:
        latest.update({name: f.load_key for name, f in run.items()})
    baseline = history_medians(path, runs, latest, HISTORY_RUNS)
    return Baseline(history_source(path, baseline, HISTORY_RUNS), baseline)


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
                    metric=name,
                    baseline=base.value(name),
                    current=cur.value(name),
                    change_percent=None,
                    tolerance_percent=scenario_tolerances.get(name, default_tolerance),
                    status=ChangeStatus.NOT_COMPARABLE,
                )
                for name in COMPARED
            )
            note = f"{where}: load settings differ, not compared"
            results[name] = (Comparison(source=note, changes=changes), ())
            continue
        pairs = [
            _compare_metric(
                name,
                metric,
                cur,
                base,
                float(scenario_tolerances.get(name, default_tolerance)),
                where,
            )
            for name, metric in COMPARED.items()
        ]
        changes = tuple(change for change, _ in pairs)
        verdicts = tuple(verdict for _, verdict in pairs if verdict is not None)
        results[name] = (Comparison(source=where, changes=changes), verdicts)
    return summary, results


def _compare_metric(
    name: str,
    metric: Metric,
    now: ScenarioFigures,
    then: ScenarioFigures,
    tolerance: float,
    source: str,
) -> tuple[MetricChange, Verdict | None]:
    current, baseline = now.value(name), then.value(name)

    def change(status: ChangeStatus, percent: float | None = None, note: str = "") -> MetricChange:
        return MetricChange(name, baseline, current, percent, tolerance, status, note)

    if current is None or baseline is None:
        return change(ChangeStatus.NOT_COMPARABLE), None
    if baseline == 0 and name != "error_rate":
        return change(ChangeStatus.NOT_COMPARABLE), None
    too_few = _too_few_samples(name, metric, now.samples, then.samples)
    if too_few:
        return change(ChangeStatus.NOT_COMPARABLE, note=too_few), None
    percent = (current - baseline) / baseline * 100.0 if baseline else None
    allowed = abs(baseline) * tolerance / 100.0
    allowance = f"tolerance {tolerance:g}%"
    if name == "error_rate" and allowed < MIN_ERROR_RATE_CHANGE_PP:
        allowed = MIN_ERROR_RATE_CHANGE_PP
        allowance = f"tolerance {allowed:g} percentage points"
    elif metric.unit == "ms" and allowed < MIN_LATENCY_CHANGE_MS:
        allowed = MIN_LATENCY_CHANGE_MS
        allowance = f"tolerance {tolerance:g}%, at least {allowed:g} ms"
    worse = current - baseline if metric.higher_is_worse else baseline - current
    if worse > allowed:
        status = ChangeStatus.REGRESSION
    elif -worse > allowed:
        status = ChangeStatus.IMPROVEMENT
    else:
        status = ChangeStatus.UNCHANGED
    limit = baseline + allowed if metric.higher_is_worse else baseline - allowed
    threshold = Threshold(f"regression.{name}", metric.name, metric.bound, limit)
    note = f"baseline {baseline:g} {metric.unit}, {allowance} ({source})"
    return change(status, percent), judge(threshold, current, note)


def _too_few_samples(name: str, metric: Metric, now: int | None, then: int | None) -> str:
    """Why a percentile of this few requests is not compared, or "" when it can be."""
    needed = min_samples(metric)
    short = [
        f"{count} in the {side}"
        for side, count in (("run", now), ("baseline", then))
        if count is not None and count < needed
    ]
    if not short:
        return ""
    return (
        f"too few requests to compare a {name}: {' and '.join(short)}, "
        f"it needs {needed} ({MIN_TAIL_SAMPLES} beyond it)"
    )


def compare_reports(
    old: Path, new: Path, default_tolerance: float = DEFAULT_TOLERANCE_PERCENT
) -> tuple[BaselineSummary, dict[str, Comparison]]:
    """Two saved reports side by side (nothing is run): `new` against `old`."""
    baseline = load_baseline(old)
    current = load_baseline(new).figures
    summary, results = compare(current, baseline.figures, {}, default_tolerance, baseline.source)
    return summary, {name: comparison for name, (comparison, _) in results.items()}
