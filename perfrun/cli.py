"""The `perfrun` command: options become a RunConfig, `perfrun.app` does the work, this
module renders the result and picks the exit code.

The only module that exits (once, at the end of `cli`); every exit code is defined in
`perfrun.errors`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console

from perfrun import __version__
from perfrun.app import Outputs, RunConfig, Selection, compare, publish, run, select
from perfrun.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_THRESHOLD_FAILED,
    PerfrunError,
    UsageError,
)
from perfrun.judge.baseline import parse_tolerance
from perfrun.report.console import render_comparison, render_list, render_summary
from perfrun.report.model import ChangeStatus, RunReport
from perfrun.report.progress import LiveProgress, PlainProgress, QuietProgress
from perfrun.run.outcome import Progress, RunOptions
from perfrun.scenario.model import EngineChoice, Severity
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
    out, err = _consoles()

    def perform() -> int:
        selection = Selection(scenarios_dir, names, types, severities)
        if list_only:
            _refuse_ignored("--list", LIST_OPTIONS)
            render_list(select(selection), out)
            return EXIT_OK
        tolerance = _tolerance(max_regression)
        if compare_files:
            _refuse_ignored("--compare", COMPARE_OPTIONS)
            return _compare_saved(compare_files[0], compare_files[1], tolerance, out)
        config = RunConfig(
            selection=selection,
            options=RunOptions(
                base_url=_check_base_url(base_url) if base_url is not None else None,
                monitor_pid=monitor_pid,
                engine=EngineChoice(engine) if engine else None,
                workers=_worker_count(workers),
            ),
            outputs=Outputs(output, html, junit, markdown, history),
            baseline=baseline,
            max_regression=tolerance,
            fail_on=Severity(fail_on),
            fail_on_saturation=on_saturation == "fail",
        )
        return _publish(run(config, _progress(out, quiet)), config.outputs, out, err)

    sys.exit(_exit_code_of(perform, err))


def _exit_code_of(perform: Callable[[], int], err: Console) -> int:
    """Run `perform` with SIGTERM meaning Ctrl-C; perfrun's errors become their exit codes
    (the message on stderr), an interrupt before the run ends becomes 130."""
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    if previous_sigterm is not signal.SIG_IGN:  # ignored by whoever started us
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return perform()
    except PerfrunError as exc:
        err.print(f"perfrun: error: {exc.message}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("perfrun: interrupted")
        return EXIT_INTERRUPTED
    finally:
        if previous_sigterm is not None:  # None: set outside Python, nothing to put back
            signal.signal(signal.SIGTERM, previous_sigterm)


def _consoles() -> tuple[Console, Console]:
    out = Console(highlight=False)
    if not out.is_terminal:
        # CI logs: rich would wrap tables at 80 columns and split long lines mid-word.
        out = Console(highlight=False, soft_wrap=True, width=_log_width())
    return out, Console(stderr=True, highlight=False, soft_wrap=True)


LIST_OPTIONS = frozenset({"list_only", "names", "types", "severities", "scenarios_dir"})
"""What --list takes: the selection. Any other option would be silently ignored."""
COMPARE_OPTIONS = frozenset({"compare_files", "max_regression"})


def _refuse_ignored(mode: str, allowed: frozenset[str]) -> None:
    """A mode that is not a run refuses options it would ignore (exit 2), so that
    `--compare a b --html x` does not quietly write no HTML."""
    context = click.get_current_context()
    ignored = [
        param.opts[0]
        for param in context.command.params
        if param.name not in allowed
        and context.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE
    ]
    if ignored:
        raise UsageError(f"{mode} runs nothing: it does not take {', '.join(ignored)}")


def _progress(out: Console, quiet: bool) -> Progress:
    if quiet:
        return QuietProgress()
    if out.is_terminal:
        return LiveProgress(out)
    return PlainProgress(out)


def _publish(report: RunReport, outputs: Outputs, out: Console, err: Console) -> int:
    """Write the reports, print the summary, and return the exit code."""
    try:
        written = publish(report, outputs, os.environ)
    except PerfrunError as exc:
        err.print(f"perfrun: error: {exc.message}", markup=False)
        render_summary(report, out)
        return EXIT_INTERRUPTED if report.interrupted else exc.exit_code
    render_summary(report, out)
    out.print("reports: " + ", ".join(str(path) for path in written), style="dim")
    return exit_code(report)


def exit_code(report: RunReport) -> int:
    """Interrupted beats could-not-run beats threshold failures."""
    if report.interrupted:
        return EXIT_INTERRUPTED
    if report.tally.errored:
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
    summary, comparisons = compare(old, new, tolerance)
    out.print(f"{new} against {old} (tolerance {tolerance:g}%)", highlight=False)
    for name, comparison in comparisons.items():
        out.print(name, style="bold", highlight=False)
        render_comparison(comparison, out)
    for label, names in (("only in", summary.only_in_baseline), ("new in", summary.only_in_run)):
        if names:
            where = old if label == "only in" else new
            out.print(f"{label} {where}: {', '.join(names)}", highlight=False)
    regressed = any(
        change.status is ChangeStatus.REGRESSION
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
