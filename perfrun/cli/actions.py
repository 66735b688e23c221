"""What the `perfrun` command does once its options are parsed: list, compare or run,
render, and the exit code. Imported only when a command runs (see perfrun.cli.command).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console

from perfrun.app import (
    STDOUT,
    Outputs,
    RunConfig,
    Selection,
    compare,
    init_project,
    publish,
    run,
    select,
)
from perfrun.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_THRESHOLD_FAILED,
    PerfrunError,
    UsageError,
)
from perfrun.execution.interrupts import Interrupts
from perfrun.execution.outcome import DataOut, OutKind, Progress, RunOptions
from perfrun.judge.baseline import parse_tolerance
from perfrun.report.console import render_comparison, render_list, render_summary
from perfrun.report.exporters import exporters, tee
from perfrun.report.model import ChangeStatus, RunReport
from perfrun.report.progress import LiveProgress, PlainProgress, QuietProgress
from perfrun.scenario.loader import LoadOverrides
from perfrun.scenario.model import EngineChoice, Severity
from perfrun.scenario.quick import QuickLoad, quick_scenario
from perfrun.scenario.units import parse_base_url

LOG_WIDTH = 120


@dataclass(frozen=True)
class Invocation:
    """The command line as click parsed it: one field per option (see perfrun.cli.command)."""

    list_only: bool
    names: tuple[str, ...]
    types: tuple[str, ...]
    severities: tuple[str, ...]
    scenarios_dir: Path
    base_url: str | None
    monitor_pid: int | None
    output: Path
    engine: str | None
    workers: str
    on_saturation: str
    html: Path | None
    junit: Path | None
    markdown: Path | None
    baseline: str | None
    max_regression: str
    history: Path | None
    fail_on: str
    fail_on_warn: bool
    compare_files: tuple[Path, Path] | None
    quiet: bool
    insecure: bool = False
    target_cmd: str | None = None
    cluster: str | None = None
    verbose: bool = False
    env: tuple[str, ...] = ()
    users: int | None = None
    duration: str | None = None
    rate: str | None = None
    iterations: int | None = None
    words: tuple[str, ...] = ()
    """The positional words: a URL (quick mode), or init [DIR], schema, completion SHELL."""
    requests: int | None = None
    method: str = "GET"
    headers: tuple[str, ...] = ()
    body: str | None = None
    thresholds: tuple[str, ...] = ()
    data_out: tuple[str, ...] = ()
    http_debug: bool = False
    http_debug_count: int | None = None
    """--http-debug=N (the attached form only, see perfrun.cli.command)."""
    http_debug_bodies: bool = False
    given: Mapping[str, str] = field(default_factory=dict)
    """Option name -> flag, for the options typed on the command line."""


def execute(inv: Invocation) -> int:
    """Do what the command line asks; the exit code (perfrun.errors). With `-o -` the
    JSON report is the only thing on stdout: everything else goes to stderr."""
    out, err = _consoles()
    if inv.output == STDOUT:
        out = err
    return _exit_code_of(lambda: _perform(inv, out, err), err)


def _perform(inv: Invocation, out: Console, err: Console) -> int:
    if inv.words:
        command = COMMANDS.get(inv.words[0])
        if command is not None:
            return command(inv, out)
        return _run(inv, _quick_selection(inv), out, err)
    quick_only = [flag for name, flag in inv.given.items() if name in QUICK_OPTIONS]
    if quick_only:
        raise UsageError(
            f"{', '.join(quick_only)}: for quick mode, with a URL (perfrun URL "
            f"{' '.join(quick_only)} ...); a scenario file says it under requests:"
        )
    if inv.duration is not None and inv.iterations is not None:
        raise click.BadParameter(
            "give either --duration or --iterations", param_hint="--iterations"
        )
    load = LoadOverrides(inv.users, inv.duration, inv.rate, inv.iterations)
    selection = Selection(
        inv.scenarios_dir, inv.names, inv.types, inv.severities, _env_pairs(inv.env), load
    )
    return _run(inv, selection, out, err)


def _run(inv: Invocation, selection: Selection, out: Console, err: Console) -> int:
    if inv.list_only:
        _refuse_ignored("--list", inv.given, LIST_OPTIONS)
        skipped: list[Path] = []
        render_list(select(selection, skipped), out, skipped if inv.verbose else ())
        return EXIT_OK
    tolerance = _tolerance(inv.max_regression)
    if inv.compare_files:
        _refuse_ignored("--compare", inv.given, COMPARE_OPTIONS)
        return _compare_saved(inv.compare_files[0], inv.compare_files[1], tolerance, out)
    config = RunConfig(
        selection=selection,
        options=RunOptions(
            base_url=_check_base_url(inv.base_url) if inv.base_url is not None else None,
            monitor_pid=inv.monitor_pid,
            engine=EngineChoice(inv.engine) if inv.engine else None,
            workers=_worker_count(inv.workers),
            insecure=inv.insecure,
            cluster=inv.cluster,
            data_out=tuple(_data_out(text) for text in inv.data_out),
            http_debug=_debug_count(inv),
            http_debug_bodies=inv.http_debug_bodies,
        ),
        outputs=Outputs(inv.output, inv.html, inv.junit, inv.markdown, inv.history),
        baseline=inv.baseline,
        max_regression=tolerance,
        fail_on=Severity(inv.fail_on),
        fail_on_saturation=inv.on_saturation == "fail",
        target_command=_target_command(inv.target_cmd) if inv.target_cmd is not None else None,
        fail_on_warn=inv.fail_on_warn,
    )
    exporting = exporters(config.options.data_out, say=lambda line: _say(err, line))
    debugging = config.options.http_debug > 0  # its blocks on stderr: no live line
    progress = tee([_progress(out, inv.quiet, live=not debugging), *exporting])
    try:
        report = run(config, progress)
        with Interrupts():  # a Ctrl-C now would lose the report of what was measured
            return _publish(report, config.outputs, out, err)
    finally:
        progress.close()  # after the summary: a last scrape may still be awaited


def _say(err: Console, line: str) -> None:
    err.print(f"perfrun: {line}", markup=False)


DEBUG_EXCHANGES = 10
"""--http-debug-bodies alone shows this many exchanges, as --http-debug alone does."""
QUICK_OPTIONS = frozenset({"requests", "method", "headers", "body", "thresholds"})
"""Options only quick mode (`perfrun URL`) takes."""
QUICK_REFUSED = frozenset(
    {"names", "types", "severities", "scenarios_dir", "base_url", "iterations", "list_only",
     "compare_files", "verbose", "target_cmd", "baseline"}
)  # fmt: skip
"""Options about scenario files, which quick mode has none of."""


def _quick_selection(inv: Invocation) -> Selection:
    """`perfrun URL [options]`: the one scenario quick mode builds from the options."""
    url, *rest = inv.words
    if rest:
        raise UsageError(f"quick mode takes one URL; also given: {' '.join(rest)}")
    if "://" not in url:
        commands = ", ".join(COMMANDS)
        raise UsageError(f"{url!r}: neither a command ({commands}) nor an http:// URL")
    refused = [flag for name, flag in inv.given.items() if name in QUICK_REFUSED]
    if refused:
        raise UsageError(f"quick mode ({url}) runs no scenario files: drop {', '.join(refused)}")
    quick = QuickLoad(
        url=url,
        method=inv.method,
        headers=inv.headers,
        body=_body(inv.body),
        users=inv.users,
        duration=inv.duration,
        requests=inv.requests,
        rate=inv.rate,
        thresholds=inv.thresholds,
    )
    env = _env_pairs(inv.env)
    return Selection(scenarios=(quick_scenario(quick, {**os.environ, **env}),), env=env)


def _debug_count(inv: Invocation) -> int:
    """How many exchanges --http-debug shows (0: none): N of --http-debug=N, else 10 with
    --http-debug or --http-debug-bodies alone."""
    if inv.http_debug_count is not None:
        return inv.http_debug_count
    return DEBUG_EXCHANGES if inv.http_debug or inv.http_debug_bodies else 0


def _body(text: str | None) -> str | None:
    """--body TEXT, or @FILE for a file's content."""
    if text is None or not text.startswith("@"):
        return text
    try:
        return Path(text[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--body {text}: cannot read it: {exc}") from None


def _data_out(text: str) -> DataOut:
    """--out KIND=WHERE."""
    kind, equals, where = text.partition("=")
    kinds = ", ".join(k.value for k in OutKind)
    if not equals or not where or kind not in {k.value for k in OutKind}:
        raise click.BadParameter(
            f"{text!r}: expected KIND=WHERE, KIND one of {kinds}", param_hint="--out"
        )
    return DataOut(OutKind(kind), where)


def _init(inv: Invocation, out: Console) -> int:
    """`perfrun init [DIR]`: starter scenarios, a CI job and the JSON Schema."""
    _refuse_ignored("perfrun init", inv.given, frozenset({"words"}))
    if len(inv.words) > 2:
        raise UsageError(f"perfrun init takes one directory; also given: {inv.words[2]}")
    directory = Path(inv.words[1]) if len(inv.words) > 1 else Path(".")
    written = init_project(directory, _schema_text())
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    where = "" if directory == Path(".") else f"cd {directory}, then "
    out.print(
        f"next: {where}perfrun --list and perfrun --scenarios api_load (each scenario's "
        "comments say how to point it at your service)",
        highlight=False,
    )
    return EXIT_OK


def _schema(inv: Invocation, out: Console) -> int:
    """`perfrun schema`: the JSON Schema of scenario files, on stdout."""
    _refuse_ignored("perfrun schema", inv.given, frozenset({"words"}))
    if len(inv.words) > 1:
        raise UsageError(f"perfrun schema takes no argument; given: {inv.words[1]}")
    sys.stdout.write(_schema_text())
    return EXIT_OK


def _schema_text() -> str:
    from perfrun.scenario.schema import scenario_schema

    return json.dumps(scenario_schema(), indent=2) + "\n"


SHELLS = ("bash", "zsh", "fish")


def _completion(inv: Invocation, out: Console) -> int:
    """`perfrun completion SHELL`: the shell's completion script, on stdout."""
    _refuse_ignored("perfrun completion", inv.given, frozenset({"words"}))
    if len(inv.words) != 2 or inv.words[1] not in SHELLS:
        raise UsageError(f"perfrun completion takes one shell: {', '.join(SHELLS)}")
    from click.shell_completion import get_completion_class

    from perfrun.cli.command import cli

    shell = get_completion_class(inv.words[1])
    assert shell is not None  # click knows all of SHELLS
    sys.stdout.write(shell(cli, {}, "perfrun", "_PERFRUN_COMPLETE").source() + "\n")
    return EXIT_OK


COMMANDS: Mapping[str, Callable[[Invocation, Console], int]] = {
    "init": _init,
    "schema": _schema,
    "completion": _completion,
}


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


LIST_OPTIONS = frozenset(
    {"list_only", "names", "types", "severities", "scenarios_dir", "verbose", "env"}
)
"""What --list takes: the selection. Any other option would be silently ignored."""
COMPARE_OPTIONS = frozenset({"compare_files", "max_regression"})


def _refuse_ignored(mode: str, given: Mapping[str, str], allowed: frozenset[str]) -> None:
    """A mode that is not a run refuses options it would ignore (exit 2), so that
    `--compare a b --html x` does not quietly write no HTML."""
    ignored = [flag for name, flag in given.items() if name not in allowed]
    if ignored:
        raise UsageError(f"{mode} runs nothing: it does not take {', '.join(ignored)}")


def _progress(out: Console, quiet: bool, live: bool = True) -> Progress:
    if quiet:
        return QuietProgress()
    if out.is_terminal and live:
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


_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """`-e KEY=VALUE` options as a mapping; BadParameter (exit 2) for anything else."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not _ENV_KEY.match(key):
            raise click.BadParameter(
                f"{pair!r}: expected KEY=VALUE, KEY a name (letters, digits, _)",
                param_hint="--env",
            )
        env[key] = value
    return env


def _check_base_url(url: str) -> str:
    try:
        return parse_base_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-url") from None


def _target_command(text: str) -> tuple[str, ...]:
    try:
        parts = tuple(shlex.split(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--target-cmd") from None
    if not parts:
        raise click.BadParameter("must name a program to run", param_hint="--target-cmd")
    return parts


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
