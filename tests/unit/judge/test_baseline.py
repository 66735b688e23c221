"""Baselines, regressions and the run history (perfrun.judge.figures, .history and .baseline):
figures read from the JSON report's shape, compared metric by metric with tolerances, and
turned into verdicts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from perfrun.errors import EXIT_USAGE, UsageError
from perfrun.judge.baseline import (
    compare,
    compare_reports,
    load_baseline,
    min_samples,
    parse_tolerance,
)
from perfrun.judge.build import Rules, judge_scenarios
from perfrun.judge.figures import (
    Baseline,
    ScenarioFigures,
    figures_from_report_dict,
    figures_of,
    load_key,
)
from perfrun.judge.history import HISTORY_FILE, append_history, history_baseline, history_file
from perfrun.report.codec import to_dict, write_json
from perfrun.report.model import ChangeStatus, MetricChange, RunReport, ScenarioReport, Verdict
from perfrun.scenario.metrics import COMPARED, Metric
from perfrun.scenario.model import ScenarioStatus, Severity
from tests.support.factories import START, counts, latency, resources, sample, scenario_report

LOAD = {"model": "closed", "users": 10, "duration_s": 10.0, "warmup_s": 0.0}
KEY = load_key(LOAD)


def run_report(*scenarios: ScenarioReport) -> RunReport:
    return RunReport(
        perfrun_version="0.1.0",
        started_at=START,
        finished_at=START,
        environment={"host": "ci"},
        interrupted=False,
        scenarios=scenarios,
    )


def measured(
    name: str = "health",
    p50: float = 10.0,
    p99: float = 40.0,
    rps: float = 100.0,
    failed: int = 0,
    memory_mb: float | None = 50.0,
    **changes: Any,
) -> ScenarioReport:
    fields: dict[str, Any] = {
        "name": name,
        "load": LOAD,
        "latency_ms": latency(p50, p99),
        "requests": counts(int(rps * 10), failed),
        "resources": resources([sample(1.0, memory_mb)], memory_max=memory_mb),
    }
    return scenario_report(**(fields | changes))


def figures(name: str = "health", key: str = KEY, /, **values: float | None) -> ScenarioFigures:
    base: dict[str, float | None] = {
        "p50": 10.0,
        "p95": 15.0,
        "p99": 40.0,
        "avg": 11.0,
        "rps": 100.0,
        "error_rate": 0.0,
        "memory_mb": 50.0,
    }
    return ScenarioFigures(name=name, load_key=key, values=base | values)


def wanted(figures: Mapping[str, ScenarioFigures]) -> dict[str, str]:
    """Scenario name → load key: what a history baseline is asked for."""
    return {name: f.load_key for name, f in figures.items()}


def unpack(baseline: Baseline) -> tuple[str, Mapping[str, ScenarioFigures]]:
    return baseline.source, baseline.figures


def change_of(changes: tuple[MetricChange, ...], metric: str) -> MetricChange:
    return next(c for c in changes if c.metric == metric)


def verdict_of(verdicts: tuple[Verdict, ...], key: str) -> Verdict | None:
    return next((v for v in verdicts if v.key == key), None)


def compare_one(
    current: ScenarioFigures,
    baseline: ScenarioFigures,
    tolerances: Mapping[str, float] | None = None,
    default: float = 10.0,
) -> tuple[tuple[MetricChange, ...], tuple[Verdict, ...]]:
    _, results = compare(
        {current.name: current},
        {baseline.name: baseline},
        {current.name: tolerances or {}},
        default,
        "old.json",
    )
    comparison, verdicts = results[current.name]
    return comparison.changes, verdicts


# --- reading figures --------------------------------------------------------------------


def test_figures_of_a_run_are_read_from_the_report_model() -> None:
    found = figures_of(run_report(measured(p50=12.5, p99=60.0, rps=200.0, failed=40)))
    assert found["health"] == ScenarioFigures(
        name="health",
        load_key=KEY,
        values={
            "p50": 12.5,
            "p95": 18.75,
            "p99": 60.0,
            "avg": 13.75,
            "rps": 200.0,
            "error_rate": 2.0,
            "memory_mb": 50.0,
        },
        samples=1960,  # the successful requests: latency figures stand on them
    )


def test_a_saved_report_gives_the_figures_of_the_run_it_holds() -> None:
    report = run_report(measured(p50=12.5, p99=60.0, rps=200.0, failed=40))
    assert figures_from_report_dict(to_dict(report)) == figures_of(report)


def test_memory_is_none_without_a_monitored_target() -> None:
    found = figures_of(run_report(measured(resources=None)))
    assert found["health"].value("memory_mb") is None


def test_scenarios_that_did_not_complete_have_no_figures() -> None:
    report = run_report(measured("a"), measured("b", status=ScenarioStatus.UNREACHABLE))
    assert set(figures_of(report)) == {"a"}


def test_load_key_is_the_same_for_the_same_settings_in_any_order() -> None:
    assert load_key({"users": 10, "model": "closed"}) == load_key({"model": "closed", "users": 10})
    assert load_key({"users": 10, "model": "closed"}) != load_key({"users": 20, "model": "closed"})


def test_figures_from_a_dict_that_is_no_report_raise_value_error() -> None:
    with pytest.raises(ValueError, match="not a perfrun JSON report"):
        figures_from_report_dict({"scenarios": []})


# --- load_baseline ----------------------------------------------------------------------


def test_load_baseline_reads_a_saved_report(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    write_json(run_report(measured(p50=8.0)), path)
    source, found = load_baseline(path).source, load_baseline(path).figures
    assert source == str(path)
    assert found["health"].value("p50") == 8.0
    assert found["health"].load_key == KEY


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "the file is empty"),
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not a perfrun JSON report"),
        ('{"hello": "world"}', "not a perfrun JSON report"),
        ('{"perfrun_version": "0.1.0", "scenarios": [{"status": "completed"}]}', "without a name"),
    ],
)
def test_load_baseline_names_the_file_it_cannot_use(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "old.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message) as caught:
        load_baseline(path)
    assert str(path) in str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE


def test_load_baseline_of_a_history_file_takes_the_median_of_its_last_runs(
    tmp_path: Path,
) -> None:
    history = tmp_path / "history.jsonl"
    for p50 in (10.0, 30.0, 12.0):
        append_history(history, run_report(measured(p50=p50)))
    baseline = load_baseline(history)
    source, found = baseline.source, baseline.figures
    assert found["health"].value("p50") == 12.0
    assert source == f"history {history} (median of 3 runs)"


# --- parse_tolerance --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "percent"), [("10%", 10.0), ("10", 10.0), ("2.5%", 2.5), (" 0 % ", 0.0)]
)
def test_parse_tolerance_reads_percentages(text: str, percent: float) -> None:
    assert parse_tolerance(text) == percent


@pytest.mark.parametrize("text", ["", "%", "ten", "10 ms", "-5%", "nan", "inf%"])
def test_parse_tolerance_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        parse_tolerance(text)


# --- compare ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "baseline", "current", "status", "verdict"),
    [
        ("p95", 100.0, 111.0, "regression", "fail"),
        ("p95", 100.0, 110.0, "unchanged", "pass"),  # exactly the tolerance is allowed
        ("p95", 100.0, 95.0, "unchanged", "pass"),
        ("p95", 100.0, 89.0, "improvement", "pass"),
        ("rps", 100.0, 89.0, "regression", "fail"),  # lower throughput is worse
        ("rps", 100.0, 90.0, "unchanged", "pass"),
        ("rps", 100.0, 120.0, "improvement", "pass"),
        ("memory_mb", 50.0, 56.0, "regression", "fail"),
        ("error_rate", 2.0, 3.0, "regression", "fail"),  # +1 point beats 10 % and 0.5 points
        ("error_rate", 0.0, 0.4, "unchanged", "pass"),  # below the 0.5-point floor
        ("error_rate", 0.0, 0.6, "regression", "fail"),
        ("error_rate", 1.0, 0.4, "improvement", "pass"),
        ("error_rate", 20.0, 21.5, "unchanged", "pass"),  # 10 % of 20 = 2 points allowed
        ("p50", 1.0, 1.9, "unchanged", "pass"),  # +90 %, but under the 1 ms floor
        ("p50", 1.0, 2.1, "regression", "fail"),  # +1.1 ms: past both
        ("p99", 5.0, 3.9, "improvement", "pass"),
        ("avg", 20.0, 21.5, "unchanged", "pass"),  # 10 % of 20 ms = 2 ms allowed
    ],
)
def test_compare_judges_each_metric_against_its_tolerance(
    metric: str, baseline: float, current: float, status: str, verdict: str
) -> None:
    changes, verdicts = compare_one(figures(**{metric: current}), figures(**{metric: baseline}))
    assert change_of(changes, metric).status == status
    found = verdict_of(verdicts, f"regression.{metric}")
    assert found is not None
    assert found.status == verdict


def test_compare_reports_the_change_in_percent() -> None:
    changes, _ = compare_one(figures(p95=120.0), figures(p95=100.0))
    assert change_of(changes, "p95") == MetricChange(
        metric="p95",
        baseline=100.0,
        current=120.0,
        change_percent=20.0,
        tolerance_percent=10.0,
        status=ChangeStatus.REGRESSION,
    )


def test_regression_verdicts_carry_the_limit_derived_from_the_baseline() -> None:
    _, verdicts = compare_one(figures(p95=130.0, rps=80.0), figures(p95=100.0, rps=100.0))
    p95 = verdict_of(verdicts, "regression.p95")
    assert p95 is not None
    assert (p95.metric, p95.bound, p95.actual, p95.passed) == (
        "latency_p95_ms",
        "max",
        130.0,
        False,
    )
    assert p95.limit == pytest.approx(110.0)
    assert p95.note == "baseline 100 ms, tolerance 10% (old.json)"
    rps = verdict_of(verdicts, "regression.rps")
    assert rps is not None
    assert (rps.metric, rps.bound, rps.actual) == ("rps", "min", 80.0)
    assert not rps.passed
    assert rps.limit == pytest.approx(90.0)
    assert [v.key for v in verdicts] == [f"regression.{m}" for m in list(COMPARED)]


def test_a_scenario_tolerance_overrides_the_default_for_that_metric_only() -> None:
    changes, verdicts = compare_one(
        figures(p95=125.0, p99=50.0), figures(p95=100.0, p99=40.0), {"p95": 30.0}
    )
    assert change_of(changes, "p95").status is ChangeStatus.UNCHANGED
    assert change_of(changes, "p95").tolerance_percent == 30.0
    assert change_of(changes, "p99").status is ChangeStatus.REGRESSION
    p95 = verdict_of(verdicts, "regression.p95")
    assert p95 is not None and p95.limit == pytest.approx(130.0)


def test_the_default_tolerance_applies_to_every_metric_not_overridden() -> None:
    changes, _ = compare_one(figures(p95=104.0), figures(p95=100.0), default=3.0)
    assert change_of(changes, "p95").status is ChangeStatus.REGRESSION


def test_the_error_rate_floor_shows_in_the_verdict_note() -> None:
    _, verdicts = compare_one(figures(error_rate=2.0), figures(error_rate=0.0))
    found = verdict_of(verdicts, "regression.error_rate")
    assert found is not None
    assert found.limit == 0.5 and not found.passed
    assert found.note == "baseline 0 %, tolerance 0.5 percentage points (old.json)"


@pytest.mark.parametrize(
    ("current", "baseline"),
    [
        (None, 50.0),  # target not monitored this time
        (50.0, None),  # not monitored in the baseline
        (50.0, 0.0),  # a baseline of 0 MB (or 0 req/s) is no bar to measure against
    ],
)
def test_metrics_missing_or_zero_are_not_comparable_and_get_no_verdict(
    current: float | None, baseline: float | None
) -> None:
    changes, verdicts = compare_one(figures(memory_mb=current), figures(memory_mb=baseline))
    change = change_of(changes, "memory_mb")
    assert (change.status, change.change_percent) == ("not_comparable", None)
    assert verdict_of(verdicts, "regression.memory_mb") is None
    assert len(verdicts) == len(list(COMPARED)) - 1


@pytest.mark.parametrize(
    ("metric", "needed"),
    [("p50", 20), ("p95", 200), ("p99", 1000), ("avg", 0), ("rps", 0), ("error_rate", 0)],
)
def test_a_percentile_needs_ten_requests_beyond_it(metric: str, needed: int) -> None:
    assert min_samples(COMPARED[metric]) == needed


@pytest.mark.parametrize(
    ("run", "baseline", "compared"),
    [
        (40, 40, {"p50", "avg", "rps", "error_rate", "memory_mb"}),  # a p99 of 40 is their max
        (200, 200, {"p50", "p95", "avg", "rps", "error_rate", "memory_mb"}),
        (199, 5000, {"p50", "avg", "rps", "error_rate", "memory_mb"}),
        (5000, 199, {"p50", "avg", "rps", "error_rate", "memory_mb"}),
        (1000, 1000, set(list(COMPARED))),
        (None, 40, {"p50", "avg", "rps", "error_rate", "memory_mb"}),  # unknown: not checked
        (None, None, set(list(COMPARED))),
    ],
)
def test_percentiles_of_too_few_requests_are_not_compared(
    run: int | None, baseline: int | None, compared: set[str]
) -> None:
    worse = {"p50": 100.0, "p95": 150.0, "p99": 400.0}  # 10x the baseline: a regression
    changes, verdicts = compare_one(
        dataclasses.replace(figures(**worse), samples=run),
        dataclasses.replace(figures(), samples=baseline),
    )
    assert {c.metric for c in changes if c.status != "not_comparable"} == compared
    assert {v.key for v in verdicts} == {f"regression.{m}" for m in compared}


def test_a_run_whose_every_request_failed_regresses_on_its_error_rate_and_throughput() -> None:
    changes, verdicts = compare_one(
        dataclasses.replace(figures(p50=None, p95=None, p99=None, avg=None, error_rate=100.0,
                                    rps=40.0), samples=0),
        dataclasses.replace(figures(), samples=1000),
    )  # fmt: skip
    assert change_of(changes, "error_rate").status is ChangeStatus.REGRESSION
    assert change_of(changes, "rps").status is ChangeStatus.REGRESSION
    assert {v.key for v in verdicts if not v.passed} == {"regression.error_rate", "regression.rps"}


def test_a_metric_is_no_percentile_of_100() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        Metric("p100", "ms", True, ("latency_ms", "max"), None, "p100", 100.0)


def test_a_percentile_not_compared_says_why() -> None:
    changes, _ = compare_one(
        dataclasses.replace(figures(), samples=40), dataclasses.replace(figures(), samples=500)
    )
    assert change_of(changes, "p99").note == (
        "too few requests to compare a p99: 40 in the run and 500 in the baseline, "
        "it needs 1000 (10 beyond it)"
    )
    assert change_of(changes, "p95").note == (
        "too few requests to compare a p95: 40 in the run, it needs 200 (10 beyond it)"
    )
    assert change_of(changes, "p50").note == ""


def test_scenarios_in_only_one_run_are_listed_not_compared() -> None:
    summary, results = compare(
        {"a": figures("a"), "new": figures("new")},
        {"a": figures("a"), "gone": figures("gone")},
        {},
        source="old.json",
    )
    assert (summary.source, summary.only_in_baseline, summary.only_in_run) == (
        "old.json",
        ("gone",),
        ("new",),
    )
    assert set(results) == {"a"}


def test_a_scenario_run_with_other_load_settings_is_not_compared() -> None:
    other = load_key(LOAD | {"users": 50})
    changes, verdicts = compare_one(figures("health", other, p95=500.0), figures(p95=100.0))
    assert {c.status for c in changes} == {"not_comparable"}
    assert verdicts == ()
    _, results = compare(
        {"health": figures("health", other)}, {"health": figures()}, {}, source="x"
    )
    assert results["health"][0].source == "x: load settings differ, not compared"


# --- judging measured scenarios against a baseline -------------------------------------


def judged(
    report: RunReport, baseline: Mapping[str, ScenarioFigures], source: str = "old.json"
) -> RunReport:
    rules = Rules(baseline=Baseline(source, baseline))
    summary, scenarios = judge_scenarios(report.scenarios, {}, rules)
    return dataclasses.replace(report, scenarios=scenarios, baseline=summary)


def test_a_regressed_scenario_fails_and_the_report_records_the_baseline() -> None:
    report = run_report(measured("slow", p50=10.0), measured("steady", p50=10.0))
    applied = judged(
        report,
        {
            "slow": figures("slow", p50=5.0, p95=7.5, p99=40.0, avg=5.5),
            "steady": figures("steady", p95=15.0, avg=11.0),
        },
    )
    slow, steady = applied.scenarios
    assert not slow.passed
    assert slow.comparison is not None
    assert change_of(slow.comparison.changes, "p50").status is ChangeStatus.REGRESSION
    assert [v.key for v in slow.thresholds if not v.passed] == [
        "regression.p50",
        "regression.p95",
        "regression.avg",
    ]
    assert steady.passed
    assert len(steady.thresholds) == len(COMPARED)
    assert applied.baseline is not None and applied.baseline.source == "old.json"
    assert not applied.passed
    assert report.scenarios[0].passed  # the input is left alone


def test_scenarios_without_a_baseline_are_not_compared() -> None:
    report = run_report(measured("new"))
    applied = judged(report, {})
    assert applied.scenarios[0].comparison is None
    assert applied.scenarios[0].thresholds == report.scenarios[0].thresholds
    assert applied.baseline is not None and applied.baseline.only_in_run == ("new",)


def test_a_passing_comparison_leaves_a_failed_scenario_failed() -> None:
    report = run_report(measured(passed=False))
    assert not judged(report, figures_of(report), "x").scenarios[0].passed


def test_a_failure_below_fail_on_is_tolerated_and_one_at_it_is_not() -> None:
    low = measured("low", passed=False, severity=Severity.LOW)
    high = measured("high", passed=False, severity=Severity.HIGH)
    _, (judged_low, judged_high) = judge_scenarios((low, high), {}, Rules(fail_on=Severity.HIGH))
    assert (judged_low.tolerated, judged_high.tolerated) == (True, False)
    assert not judged_low.passed  # still reported as failed


# --- history ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make_dir", "expected"),
    [
        ("perf", True, f"perf/{HISTORY_FILE}"),  # an existing directory
        ("perf", False, f"perf/{HISTORY_FILE}"),  # no suffix: a directory to be
        ("runs.jsonl", False, "runs.jsonl"),
        ("runs.jsonl", True, f"runs.jsonl/{HISTORY_FILE}"),  # a directory, whatever its name
    ],
)
def test_history_names_a_directory_or_a_file(
    tmp_path: Path, name: str, make_dir: bool, expected: str
) -> None:
    if make_dir:
        (tmp_path / name).mkdir()
    assert history_file(tmp_path / name) == tmp_path / expected


def test_append_history_writes_one_line_per_run_creating_directories(tmp_path: Path) -> None:
    target = tmp_path / "ci" / "perf"
    report = run_report(measured(p50=10.0), measured("down", status=ScenarioStatus.UNREACHABLE))
    written = append_history(target, report)
    append_history(target, report)
    assert written == target / HISTORY_FILE
    lines = written.read_text().splitlines()
    assert len(lines) == 2
    entry = json.loads(lines[0])
    assert entry["perfrun_version"] == "0.1.0"
    assert entry["started_at"] == "2026-01-01T12:00:00.000+00:00"
    assert entry["scenarios"] == {
        "health": {
            "load_key": KEY,
            "samples": 1000,
            "p50": 10.0,
            "p95": 15.0,
            "p99": 40.0,
            "avg": 11.0,
            "rps": 100.0,
            "error_rate": 0.0,
            "memory_mb": 50.0,
        }
    }


def test_history_baseline_is_the_median_of_the_last_comparable_runs(tmp_path: Path) -> None:
    other_load = measured(p50=999.0, load=LOAD | {"users": 50})
    runs = [
        measured(p50=1000.0),  # older than the last 5: left out
        measured(p50=10.0, memory_mb=None),
        other_load,  # other load settings: not comparable
        measured(p50=11.0, memory_mb=60.0, failed=100),  # 900 successful requests
        measured(p50=500.0, memory_mb=None),  # one noisy run does not become the bar
        measured(p50=12.0, memory_mb=62.0),
        measured(p50=9.0, memory_mb=64.0),
    ]
    for scenario in runs:
        append_history(tmp_path, run_report(scenario))
    current = figures_of(run_report(measured(p50=10.0)))
    source, baseline = unpack(history_baseline(tmp_path, wanted(current)))
    assert baseline["health"].value("p50") == 11.0  # median of 10, 11, 500, 12, 9
    assert baseline["health"].value("memory_mb") == 62.0  # None values are ignored
    assert source == f"history {tmp_path / HISTORY_FILE} (median of 5 runs)"
    assert baseline["health"].samples == 900  # the fewest of the runs taken
    last_two = history_baseline(tmp_path, wanted(current), last=2).figures
    assert last_two["health"].value("p50") == 10.5


def test_history_baseline_leaves_out_scenarios_without_comparable_history(
    tmp_path: Path,
) -> None:
    append_history(tmp_path, run_report(measured("a"), measured("b")))
    current = figures_of(run_report(measured("a"), measured("b", load=LOAD | {"users": 1})))
    baseline = history_baseline(tmp_path, wanted(current)).figures
    assert set(baseline) == {"a"}
    summary, results = compare(current, baseline, {}, source="history")
    assert summary.only_in_run == ("b",)
    assert results["a"][0].source == f"history {tmp_path / HISTORY_FILE} (median of 1 run)"


def test_history_baseline_of_a_missing_history_is_empty(tmp_path: Path) -> None:
    current = figures_of(run_report(measured()))
    baseline = history_baseline(tmp_path / "none", wanted(current)).figures
    assert baseline == {}


def test_history_baseline_says_which_line_is_broken(tmp_path: Path) -> None:
    path = append_history(tmp_path, run_report(measured()))
    with path.open("a") as handle:
        handle.write('{"perfrun_version": "0.1.0", "scen\n')
    with pytest.raises(UsageError, match=rf"{path}:2: invalid JSON"):
        history_baseline(tmp_path, wanted(figures_of(run_report(measured()))))


def test_history_before_append_keeps_the_run_out_of_its_own_baseline(tmp_path: Path) -> None:
    append_history(tmp_path, run_report(measured(p50=10.0)))
    report = run_report(measured(p50=20.0))
    current = figures_of(report)
    baseline = history_baseline(tmp_path, wanted(current)).figures
    append_history(tmp_path, report)
    _, results = compare(current, baseline, {}, source="history")
    assert change_of(results["health"][0].changes, "p50").status is ChangeStatus.REGRESSION


# --- side by side -----------------------------------------------------------------------


def test_compare_reports_puts_two_saved_reports_side_by_side(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    write_json(run_report(measured(rps=100.0), measured("gone")), old)
    write_json(run_report(measured(rps=150.0), measured("added")), new)
    summary, comparisons = compare_reports(old, new, default_tolerance=10.0)
    assert (summary.source, summary.only_in_baseline, summary.only_in_run) == (
        str(old),
        ("gone",),
        ("added",),
    )
    rps = change_of(comparisons["health"].changes, "rps")
    assert (rps.status, rps.change_percent) == (ChangeStatus.IMPROVEMENT, 50.0)
    assert dataclasses.asdict(comparisons["health"])["source"] == str(old)
