"""The `perfrun` command: parse options, run, render, choose the exit code.

The only module that exits; every exit code is defined in `perfrun.errors`.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console

from perfrun import __version__
from perfrun.app import Judgement, Outputs, check_baseline, finish, publish
from perfrun.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_THRESHOLD_FAILED,
    PerfrunError,
)
from perfrun.judge.baseline import compare_reports, parse_tolerance
from perfrun.judge.build import build_run_report
from perfrun.report.codec import write_json
from perfrun.report.console import render_comparison, render_list, render_summary
from perfrun.report.model import RunReport
from perfrun.report.progress import LiveProgress, PlainProgress, QuietProgress
from perfrun.run.runner import (
    COMPLETED,
    INTERRUPTED,
    Progress,
    RunOptions,
    ScenarioOutcome,
    run_scenarios,
)
from perfrun.scenario.loader import load_scenarios
from perfrun.scenario.model import EngineChoice, Severity
from perfrun.scenario.select import select_scenarios
from perfrun.scenario.units import parse_base_url

LOG_WIDTH = 120

EPILOG = """\b
Exit codes:
  0    every selected scenario ran and passed its thresholds
  1    some threshold failed
  2    usage error or invalid scenario file
  3    the run could not be carried out (target unreachable, demo target failed)
  130  interrupted (Ctrl-C / SIGTERM); the report is still written
With --fail-on, failures of scenarios below that severity are reported but do not count.
"""


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.option("--list", "list_only", is_flag=True, help="List the selected scenarios and exit.")
@click.option(
    "--scenarios",
    "-s",
    "names",
    multiple=True,
    metavar="NAME[,NAME]",
    help="Scenarios to run (comma-separated or repeated). Default: all.",
)
@click.option(
    "--type", "-t", "types", multiple=True, metavar="TYPE", help="Only scenarios of this type."
)
@click.option(
    "--severity",
    "severities",
    multiple=True,
    metavar="SEVERITY",
    help="Only scenarios of this severity (low, medium, high, critical).",
)
@click.option(
    "--scenarios-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("scenarios"),
    show_default=True,
    envvar="PERFRUN_SCENARIOS_DIR",
    show_envvar=True,
    help="Directory of scenario YAML files.",
)
@click.option(
    "--base-url", metavar="URL", help="Send every scenario's load here instead of its base_url."
)
@click.option(
    "--monitor-pid",
    type=click.IntRange(min=1),
    metavar="PID",
    help="Monitor this process as the target (overrides the scenario's monitor).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("perfrun-report.json"),
    show_default=True,
    help="Where to write the JSON report.",
)
@click.option(
    "--engine",
    type=click.Choice([e.value for e in EngineChoice]),
    help="HTTP engine for every scenario, overriding its `engine:` (default: the scenario's, "
    "auto: the fast engine where it can do the job, else httpx).",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="Worker processes generating the load, each with its own event loop (auto: one "
    "per CPU core).",
)
@click.option(
    "--on-saturation",
    type=click.Choice(["warn", "fail"]),
    default="warn",
    show_default=True,
    help="When perfrun itself was the bottleneck (CPU, event-loop lag, requests sent "
    "late): only warn, or fail the scenario.",
)
@click.option(
    "--html", type=click.Path(path_type=Path, dir_okay=False), help="Also write an HTML report."
)
@click.option(
    "--junit", type=click.Path(path_type=Path, dir_okay=False), help="Also write JUnit XML."
)
@click.option(
    "--markdown",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a Markdown summary (appended to $GITHUB_STEP_SUMMARY when set, anyway).",
)
@click.option(
    "--baseline",
    metavar="REPORT.json|history",
    help="Compare with an earlier report (or the median of the --history): regressions "
    "beyond the tolerance fail the scenario.",
)
@click.option(
    "--max-regression",
    default="10%",
    show_default=True,
    metavar="PERCENT",
    help="Tolerance for --baseline, per metric overridable in a scenario's regression: block.",
)
@click.option(
    "--history",
    type=click.Path(path_type=Path),
    metavar="DIR_OR_FILE",
    help="Append this run's figures to a JSON-lines history (a directory gets "
    "perfrun-history.jsonl).",
)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    default=Severity.LOW.value,
    show_default=True,
    help="Only failures of scenarios at or above this severity fail the run; the others "
    "are reported as tolerated.",
)
@click.option(
    "--compare",
    "compare_files",
    nargs=2,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="OLD.json NEW.json",
    help="Compare two saved reports side by side, run nothing (exit 1 on a regression).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the final summary.")
@click.version_option(__version__, prog_name="perfrun")
def cli(
    list_only: bool,
    names: tuple[str, ...],
    types: tuple[str, ...],
    severities: tuple[str, ...],
    scenarios_dir: Path,
    base_url: str | None,
    monitor_pid: int | None,
    output: Path,
    engine: str | None,
    workers: str,
    on_saturation: str,
    html: Path | None,
    junit: Path | None,
    markdown: Path | None,
    baseline: str | None,
    max_regression: str,
    history: Path | None,
    fail_on: str,
    compare_files: tuple[Path, Path] | None,
    quiet: bool,
) -> None:
    """Load-test HTTP services described by YAML scenarios.

    \b
      perfrun --list
      perfrun --scenarios health_load
      perfrun --type stress --severity high
      perfrun --scenarios health_load --output report.json --html report.html
      perfrun --compare old-report.json new-report.json
    """
    out = Console(highlight=False)
    if not out.is_terminal:
        # CI logs: rich would wrap tables at 80 columns and split long lines mid-word.
        out = Console(highlight=False, soft_wrap=True, width=_log_width())
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    if previous_sigterm is not signal.SIG_IGN:  # ignored by whoever started us
        signal.signal(signal.SIGTERM, _terminate)
    try:
        tolerance = _tolerance(max_regression)
        if compare_files:
            sys.exit(_compare_saved(compare_files[0], compare_files[1], tolerance, out))
        if base_url is not None:
            base_url = _check_base_url(base_url)
        outputs = Outputs(output, html, junit, markdown, history)
        judgement = Judgement(baseline, tolerance, Severity(fail_on))
        check_baseline(judgement, outputs)
        available = load_scenarios(scenarios_dir)
        selected = select_scenarios(available, names, types, severities)
        if list_only:
            render_list(selected, out)
            sys.exit(EXIT_OK)
        progress: Progress
        if quiet:
            progress = QuietProgress()
        elif out.is_terminal:
            progress = LiveProgress(out)
        else:
            progress = PlainProgress(out)
        options = RunOptions(
            base_url=base_url,
            monitor_pid=monitor_pid,
            engine=EngineChoice(engine) if engine else None,
            workers=_worker_count(workers),
        )
        started_at = datetime.now(UTC)
        outcomes: list[ScenarioOutcome] = []
        interrupted = False
        try:
            for outcome in run_scenarios(selected, options, progress):
                outcomes.append(outcome)
        except KeyboardInterrupt:
            interrupted = True
        interrupted = interrupted or any(o.status == INTERRUPTED for o in outcomes)
        report = build_run_report(
            outcomes,
            started_at,
            datetime.now(UTC),
            interrupted=interrupted,
            fail_on_saturation=on_saturation == "fail",
        )
        try:
            report = finish(report, selected, judgement, outputs)
        except PerfrunError:
            write_json(report, output)  # what was measured is kept, judged or not
            raise
        try:
            written = publish(report, outputs, os.environ)
        except PerfrunError as exc:
            err.print(f"perfrun: error: {exc.message}", markup=False)
            render_summary(report, out)
            sys.exit(EXIT_INTERRUPTED if report.interrupted else exc.exit_code)
        render_summary(report, out)
        out.print("reports: " + ", ".join(str(path) for path in written), style="dim")
        sys.exit(exit_code(report))
    except PerfrunError as exc:
        err.print(f"perfrun: error: {exc.message}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("perfrun: interrupted")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if previous_sigterm is not None:  # None: set outside Python, nothing to put back
            signal.signal(signal.SIGTERM, previous_sigterm)


def exit_code(report: RunReport) -> int:
    """Interrupted beats could-not-run beats threshold failures."""
    if report.interrupted:
        return EXIT_INTERRUPTED
    if any(s.status != COMPLETED and not s.tolerated for s in report.scenarios):
        return EXIT_RUN_FAILED
    if not report.passed:
        return EXIT_THRESHOLD_FAILED
    return EXIT_OK


def _check_base_url(url: str) -> str:
    try:
        return parse_base_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-url") from None


def _tolerance(text: str) -> float:
    try:
        return parse_tolerance(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-regression") from None


def _compare_saved(old: Path, new: Path, tolerance: float, out: Console) -> int:
    """`--compare OLD NEW`: nothing runs; exit 1 when NEW regressed against OLD."""
    summary, comparisons = compare_reports(old, new, tolerance)
    out.print(f"{new} against {old} (tolerance {tolerance:g}%)", highlight=False)
    for name, comparison in comparisons.items():
        out.print(name, style="bold", highlight=False)
        render_comparison(comparison, out)
    for label, names in (("only in", summary.only_in_baseline), ("new in", summary.only_in_run)):
        if names:
            where = old if label == "only in" else new
            out.print(f"{label} {where}: {', '.join(names)}", highlight=False)
    regressed = any(
        change.status == "regression"
        for comparison in comparisons.values()
        for change in comparison.changes
    )
    return EXIT_THRESHOLD_FAILED if regressed else EXIT_OK


def _worker_count(text: str) -> int:
    if text == "auto":
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise click.BadParameter("must be a whole number >= 1 or 'auto'", param_hint="--workers")
    return count


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (CI cancelling a job) stops perfrun like Ctrl-C: the report is written."""
    raise KeyboardInterrupt


def _log_width() -> int:
    try:
        return int(os.environ.get("COLUMNS", LOG_WIDTH))
    except ValueError:
        return LOG_WIDTH


def main() -> None:
    cli()
