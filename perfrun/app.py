"""What perfrun does, without a command line: list, run, compare, and write the reports.

The CLI turns its options into a `RunConfig`, calls `run(config, progress)` for the report,
renders it, writes it with `publish`, and picks the exit code. Nothing here exits or prints.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from perfrun.engine.factory import choose_engine
from perfrun.errors import ReportError, ScenarioError, UsageError
from perfrun.execution.data_out import check_data_out
from perfrun.execution.interrupts import Interrupts
from perfrun.execution.limits import check_open_files
from perfrun.execution.outcome import OutKind, Progress, RunOptions, ScenarioOutcome
from perfrun.execution.runner import run_scenarios
from perfrun.judge.baseline import DEFAULT_TOLERANCE_PERCENT, compare_reports, load_baseline
from perfrun.judge.build import Rules, build_run_report
from perfrun.judge.figures import Baseline, load_key, load_settings
from perfrun.judge.history import append_history, history_baseline
from perfrun.report.codec import json_text, write_json
from perfrun.report.html import write_html
from perfrun.report.markdown import append_step_summary, write_markdown
from perfrun.report.model import BaselineSummary, Comparison, RunReport
from perfrun.scenario.loader import LoadOverrides, load_file, load_scenarios, with_overrides_all
from perfrun.scenario.model import DEMO_TARGET, EngineChoice, Scenario, ScenarioStatus, Severity
from perfrun.scenario.quick import scenarios_from_dict
from perfrun.scenario.select import select_scenarios
from perfrun.scenario.target import LAUNCHED_BASE_URL, PORT, ReadyKind, with_command

HISTORY_BASELINE = "history"
"""`--baseline history`: the median of the last comparable runs in --history."""


@dataclass(frozen=True)
class Selection:
    """Which scenarios: from a directory, filtered by name, type and severity."""

    directory: Path = Path("scenarios")
    names: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    """`-e KEY=VALUE`: `${KEY}` in the scenario files, over the process environment."""
    load: LoadOverrides = field(default_factory=LoadOverrides)
    """`--users`, `--duration`, `--rate`, `--iterations` over the scenarios' own load."""
    scenarios: tuple[Scenario, ...] = ()
    """Scenarios made in code (quick mode, the Python API): chosen from instead of the
    directory's."""
    document: Mapping[str, Any] | None = None
    """A scenario document made in code (the Python API's dict), read as a file would be:
    chosen from instead of the directory's."""


@dataclass(frozen=True)
class Outputs:
    """Where the run's reports go: the JSON always, the others when asked for."""

    json: Path | None = Path("perfrun-report.json")
    """None: no JSON file (the Python API's default)."""
    html: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    history: Path | None = None


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, as the command line gave it."""

    selection: Selection = field(default_factory=Selection)
    options: RunOptions = field(default_factory=RunOptions)
    outputs: Outputs = field(default_factory=Outputs)
    baseline: str | None = None
    """A saved report or history file, or HISTORY_BASELINE."""
    max_regression: float = DEFAULT_TOLERANCE_PERCENT
    fail_on: Severity = Severity.LOW
    fail_on_saturation: bool = False
    target_command: tuple[str, ...] | None = None
    """`--target-cmd`, split: the command of every selected scenario's target."""
    fail_on_warn: bool = False


def select(selection: Selection, skipped: list[Path] | None = None) -> list[Scenario]:
    """The selected scenarios; ScenarioError or UsageError (exit 2) for bad files or names.
    The YAML files that are not scenario files go to `skipped`."""
    environ = {**os.environ, **selection.env}
    document = selection.document
    if document is not None:
        available = _by_name(scenarios_from_dict(document, DOCUMENT_ORIGIN, environ))
    elif selection.scenarios:
        available = _by_name(selection.scenarios)
    else:
        available = _load(selection.directory, environ, skipped)
    chosen = select_scenarios(available, selection.names, selection.types, selection.severities)
    if document is None:
        if selection.scenarios and selection.load.given():
            raise UsageError("a load override needs scenarios from a file or a document")
        return _overridden(chosen, selection.load, environ, with_overrides_all)

    def reread(
        scenarios: Sequence[Scenario], load: LoadOverrides, environ: Mapping[str, str]
    ) -> list[Scenario]:
        again = _by_name(scenarios_from_dict(document, DOCUMENT_ORIGIN, environ, load))
        return [again[scenario.name] for scenario in scenarios]

    return _overridden(chosen, selection.load, environ, reread)


DOCUMENT_ORIGIN = "<perfrun.run>"
"""Where a scenario document made in code comes from, in messages and `source`."""


def _by_name(scenarios: Iterable[Scenario]) -> dict[str, Scenario]:
    return {scenario.name: scenario for scenario in scenarios}


def _load(
    where: Path, environ: Mapping[str, str], skipped: list[Path] | None
) -> dict[str, Scenario]:
    """The scenarios of a directory (or of one file); a missing `scenarios/` says how to
    start one."""
    if where.is_file():
        return {scenario.name: scenario for scenario in load_file(where, environ)}
    if not where.exists():
        raise ScenarioError(
            "scenario directory not found. Start one with `perfrun init` (starter "
            "scenarios, one per test type), point at one with --scenarios-dir, or load one "
            "URL: perfrun http://127.0.0.1:8000/",
            str(where),
        )
    return load_scenarios(where, environ, skipped=skipped)


STARTER = "examples"
"""The starter files `perfrun init` writes, in the package: scenarios/, ci/."""
SCHEMA_FILE = "perfrun.schema.json"


def init_project(directory: Path, schema: str) -> list[Path]:
    """`perfrun init DIR`: write the starter scenarios (one per test type, on the demo
    target), a CI job example and the scenario JSON Schema (`schema`) into `directory`.
    UsageError (exit 2), writing nothing, when any of these files exists already."""
    starter = resources.files("perfrun").joinpath(STARTER)
    files = {
        directory / part.name / item.name: item.read_text(encoding="utf-8")
        for part in sorted(starter.iterdir(), key=lambda p: p.name)
        if part.is_dir()
        for item in sorted(part.iterdir(), key=lambda p: p.name)
        if item.is_file()
    }
    files[directory / SCHEMA_FILE] = schema
    in_the_way = [
        p for p in (directory, *{f.parent for f in files}) if p.exists() and not p.is_dir()
    ]
    if in_the_way:
        raise UsageError(f"perfrun init {directory}: {in_the_way[0]} is a file, not a directory")
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise UsageError(f"perfrun init writes nothing over existing files: {', '.join(existing)}")
    written: list[Path] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        for path in written:  # all or nothing: a half-written starter would mislead
            path.unlink(missing_ok=True)
        raise ReportError(f"perfrun init: cannot write {exc.filename}: {exc.strerror}") from None
    return written


def _overridden(
    scenarios: list[Scenario],
    load: LoadOverrides,
    environ: Mapping[str, str],
    reread: Callable[[Sequence[Scenario], LoadOverrides, Mapping[str, str]], list[Scenario]],
) -> list[Scenario]:
    """The selected scenarios with the command line's load over their own, where it fits
    (users and iterations: a users load; rate: a rate; duration: either; stages: none),
    their source read once for all (`reread`). UsageError (exit 2) for an option that
    fits none of them: it would change nothing."""
    given = load.given()
    if not given:
        return scenarios
    loaded = reread(scenarios, load, environ)
    taken = {name for scenario in loaded for name, _ in scenario.overrides}
    for name in given:
        if name not in taken:
            raise UsageError(
                f"--{name} fits none of the selected scenarios ({_models(scenarios)}): "
                "--users and --iterations take a users load, --rate a rate load, "
                "--duration either; stages take none"
            )
    return loaded


def _models(scenarios: list[Scenario]) -> str:
    kinds = sorted({"stages" if s.load.stages else s.load.model.value for s in scenarios})
    return "loads: " + ", ".join(kinds)


def run(config: RunConfig, progress: Progress) -> RunReport:
    """Run the selected scenarios and return the judged report.

    Everything that can be wrong with the input (scenario files, selection, baseline) is
    found before any load is sent. Ctrl-C or SIGTERM ends the run early; the report then
    says `interrupted` and holds what was measured until then.
    """
    check_outputs(config.outputs)
    check_data_out(config.options)
    check_distinct(config)
    scenarios = select(config.selection)
    if config.target_command is not None:
        scenarios = with_target_command(scenarios, config.target_command, config.options)
    check_engines(scenarios, config.options.engine)
    check_launches(scenarios, config.options)
    check_open_files(scenarios, config.options)
    rules = Rules(
        fail_on=config.fail_on,
        fail_on_saturation=config.fail_on_saturation,
        fail_on_warn=config.fail_on_warn,
        baseline=resolve_baseline(config, scenarios),
        max_regression=config.max_regression,
    )
    started_at = datetime.now(UTC)
    outcomes: list[ScenarioOutcome] = []
    interrupted = False
    options = replace(config.options, target_log=target_log(config.outputs.json))
    try:
        # closing: the run's launched targets stop even when this loop is left early.
        # extend, not a loop of appends: each outcome is in the list before the generator
        # resumes, with no step between in which a Ctrl-C could drop it.
        with contextlib.closing(run_scenarios(scenarios, options, progress)) as running:
            outcomes.extend(running)
    except KeyboardInterrupt:
        interrupted = True
    interrupted = interrupted or any(o.status is ScenarioStatus.INTERRUPTED for o in outcomes)
    overrides = {"env": tuple(sorted(config.selection.env))} if config.selection.env else {}
    with Interrupts():  # what was measured is judged whatever Ctrl-C comes now
        return build_run_report(
            outcomes, started_at, datetime.now(UTC), interrupted, rules, overrides
        )


def target_log(report: Path | None) -> Path:
    """A launched target's log file, beside the JSON report: `<report stem>.target.log`
    (`perfrun-report.target.log` without one, or with the report on stdout)."""
    if report is None or report == STDOUT:
        report = Path("perfrun-report.json")
    return report.with_name(report.stem + ".target.log")


def with_target_command(
    scenarios: list[Scenario], command: tuple[str, ...], options: RunOptions
) -> list[Scenario]:
    """`--target-cmd` for every scenario: it replaces the command of a scenario's own
    `target:` (whose ready, stop, cwd, env and scope stay), and gives one with the
    defaults (ready when its port accepts connections, one process for the run) to a
    scenario without. A scenario on the demo then loads `http://127.0.0.1:{port}`:
    UsageError when the command has no `{port}` and neither --base-url nor the
    scenario says where the service listens."""
    result = []
    for scenario in scenarios:
        base_url = scenario.base_url
        if base_url == DEMO_TARGET:
            base_url = LAUNCHED_BASE_URL
        where = options.base_url or base_url
        if PORT in where and not any(PORT in part for part in command):
            raise UsageError(
                f"--target-cmd: scenario '{scenario.name}' ({scenario.source}) loads {where}: "
                "put {port} in the command, or give --base-url"
            )
        target = with_command(scenario.target, command)
        result.append(replace(scenario, target=target, base_url=base_url))
    return result


def check_launches(scenarios: list[Scenario], options: RunOptions) -> None:
    """UsageError (before any load) when a scenario's URL cannot be known: `{port}` in
    it with no target launched to fill it in, or a launched target whose command has no
    `{port}` while the URL is the default one on it; with --workers, leak cycles (whose
    resident memory the workers cannot read after each rest)."""
    for scenario in scenarios:
        where = options.base_url or scenario.base_url
        named = f"scenario '{scenario.name}' ({scenario.source})"
        if scenario.target is None and PORT in where:
            raise UsageError(
                f"{named} loads {where}, but launches no target to fill in {{port}}: add "
                "target: (or --target-cmd), or give the URL"
            )
        if (
            scenario.target is not None
            and PORT in where
            and not any(PORT in part for part in scenario.target.command)
        ):
            raise UsageError(
                f"{named}: its target's command has no {{port}}, so {where} names no port "
                "it listens on: put {port} in the command, or give base_url"
            )
        target = scenario.target
        if (
            target is not None
            and target.ready.kind is ReadyKind.HTTP
            and where.startswith("https:")
        ):
            raise UsageError(
                f"{named}: ready: {{http: ...}} asks in plain HTTP, and {where} speaks "
                "HTTPS: use ready: {tcp: true} or {log: TEXT}"
            )
        if options.workers > 1 and scenario.load.cycles > 1:
            raise UsageError(
                f"{named}: leak cycles read the target's memory after each rest, which "
                "--workers cannot do yet: run it without --workers"
            )


def check_engines(scenarios: list[Scenario], engine: EngineChoice | None) -> None:
    """UsageError (before any load) when `--engine` names an engine a selected scenario
    cannot run on (`--engine fast` for one with `http2: true`)."""
    if engine is None:
        return
    for scenario in scenarios:
        try:
            choose_engine(engine, scenario.base_url, scenario.http2)
        except UsageError as exc:
            raise UsageError(
                f"--engine {engine}: scenario '{scenario.name}' ({scenario.source}): {exc}"
            ) from None


def resolve_baseline(config: RunConfig, scenarios: list[Scenario]) -> Baseline | None:
    """The baseline to compare with, read before the run (UsageError when unusable). The
    history's is read before this run is appended: a run is never its own baseline."""
    if config.baseline is None:
        return None
    if config.baseline != HISTORY_BASELINE:
        return load_baseline(Path(config.baseline))
    if config.outputs.history is None:
        raise UsageError("--baseline history needs --history DIR_OR_FILE")
    wanted = {s.name: load_key(load_settings(s.load)) for s in scenarios}
    return history_baseline(config.outputs.history, wanted)


STDOUT = Path("-")
"""`--output -`: the JSON report to standard output."""


def check_outputs(outputs: Outputs) -> None:
    """ReportError (exit 3), before any load, for a report path that cannot be written:
    its directory missing or read-only, or a directory in its place. Found after the
    load, the figures of a whole run would be lost to a typo."""
    for path in (outputs.json, outputs.html, outputs.junit, outputs.markdown):
        if path is None or path == STDOUT:
            continue
        directory = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise ReportError(f"cannot write report {path}: it is a directory")
        if not directory.is_dir():
            raise ReportError(f"cannot write report {path}: no directory {directory}")
        if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise ReportError(f"cannot write report {path}: permission denied")


def check_distinct(config: RunConfig) -> None:
    """UsageError (exit 2, before any load) when two of the run's files are one: a report
    and an `--out` file, say, would overwrite each other."""
    named: dict[Path, str] = {}
    outputs = config.outputs
    files = [
        ("--output", outputs.json), ("--html", outputs.html), ("--junit", outputs.junit),
        ("--markdown", outputs.markdown), ("--history", outputs.history),
        *((f"--out {out.kind}", Path(out.where)) for out in config.options.data_out
          if out.kind in (OutKind.CSV, OutKind.JSONL)),
    ]  # fmt: skip
    for option, path in files:
        if path is None or path == STDOUT:
            continue
        where = path.resolve()
        if where in named:
            raise UsageError(f"{named[where]} and {option} name the same file: {path}")
        named[where] = option


def _write_junit(report: RunReport, path: Path) -> None:
    """write_junit, imported only when a JUnit report is asked for: with xml.etree it
    costs ~13 ms of every run's start-up otherwise."""
    from perfrun.report.junit import write_junit

    write_junit(report, path)


def publish(report: RunReport, outputs: Outputs, environ: Mapping[str, str]) -> list[Path]:
    """Write every report asked for; the JSON first, so it exists whatever fails next.
    ReportError naming the file that could not be written."""
    written = []
    if outputs.json == STDOUT:
        sys.stdout.write(json_text(report))
        sys.stdout.flush()
    elif outputs.json is not None:
        write_json(report, outputs.json)
    if outputs.json is not None:
        written.append(outputs.json)
    for path, write in (
        (outputs.html, write_html),
        (outputs.junit, _write_junit),
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


def compare(
    old: Path, new: Path, tolerance: float
) -> tuple[BaselineSummary, dict[str, Comparison]]:
    """`--compare OLD NEW`: two saved reports side by side; nothing runs."""
    return compare_reports(old, new, tolerance)
