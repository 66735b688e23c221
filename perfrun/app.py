"""After the run: judge against a baseline, add insights, apply --fail-on, write every report.

The steps that turn a built report into what the CLI prints and writes, in order:
insights (observations), the baseline comparison (regressions become failed verdicts),
--fail-on (tolerated failures, applied last), then the files: JSON always, and HTML,
JUnit, Markdown, the GitHub step summary and the history when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from perfrun.errors import UsageError
from perfrun.judge.baseline import apply_comparison, compare, load_baseline
from perfrun.judge.build import apply_fail_on
from perfrun.judge.figures import ScenarioFigures, figures_from_run
from perfrun.judge.history import append_history, history_baseline
from perfrun.judge.insights import insights
from perfrun.report.codec import write_json
from perfrun.report.html import write_html
from perfrun.report.junit import write_junit
from perfrun.report.markdown import append_step_summary, write_markdown
from perfrun.report.model import RunReport
from perfrun.scenario.model import Scenario, Severity

HISTORY_BASELINE = "history"
"""`--baseline history`: the median of the last comparable runs in --history."""


@dataclass(frozen=True)
class Outputs:
    json: Path
    html: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    history: Path | None = None


@dataclass(frozen=True)
class Judgement:
    """How the run is judged beyond its thresholds."""

    baseline: str | None = None
    """A report file, or HISTORY_BASELINE."""
    max_regression: float = 10.0
    fail_on: Severity = Severity.LOW


def check_baseline(judgement: Judgement, outputs: Outputs) -> None:
    """Fail fast (exit 2), before any load is sent, on a baseline that cannot be used."""
    if judgement.baseline is None:
        return
    if judgement.baseline == HISTORY_BASELINE:
        if outputs.history is None:
            raise UsageError("--baseline history needs --history DIR_OR_FILE")
        history_baseline(outputs.history, {})  # a history that exists must be readable
        return
    load_baseline(Path(judgement.baseline))


def finish(
    report: RunReport, scenarios: Sequence[Scenario], judgement: Judgement, outputs: Outputs
) -> RunReport:
    """Insights, the baseline comparison and --fail-on, applied to a built report."""
    report = replace(
        report, scenarios=tuple(replace(s, insights=insights(s)) for s in report.scenarios)
    )
    if judgement.baseline is not None:
        current = figures_from_run(report)
        source, baseline = _baseline(judgement.baseline, outputs, current)
        tolerances: Mapping[str, Mapping[str, float]] = {s.name: s.regression for s in scenarios}
        summary, per_scenario = compare(
            current, baseline, tolerances, judgement.max_regression, source
        )
        report = apply_comparison(report, summary, per_scenario)
    return apply_fail_on(report, judgement.fail_on)


def _baseline(
    baseline: str, outputs: Outputs, current: Mapping[str, ScenarioFigures]
) -> tuple[str, Mapping[str, ScenarioFigures]]:
    if baseline == HISTORY_BASELINE:
        assert outputs.history is not None  # check_baseline made sure
        # Before this run is appended: a run is never its own baseline.
        return history_baseline(outputs.history, dict(current))
    return load_baseline(Path(baseline))


def publish(report: RunReport, outputs: Outputs, environ: Mapping[str, str]) -> list[Path]:
    """Write every report asked for; the JSON first, so it exists whatever fails next."""
    write_json(report, outputs.json)
    written = [outputs.json]
    for path, write in (
        (outputs.html, write_html),
        (outputs.junit, write_junit),
        (outputs.markdown, write_markdown),
    ):
        if path is not None:
            write(report, path)
            written.append(path)
    summary = append_step_summary(report, environ)
    if summary is not None:
        written.append(summary)
    if outputs.history is not None:
        written.append(append_history(outputs.history, report))
    return written
