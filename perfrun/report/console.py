"""Console renderers: the scenario list and the end-of-run summary (rich tables)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfrun.report.model import (
    ChangeStatus,
    Comparison,
    RunReport,
    ScenarioReport,
    Verdict,
    VerdictStatus,
)
from perfrun.report.text import (
    SATURATION_ADVICE,
    VERDICT_LABELS,
    VERDICT_TONES,
    Tone,
    describe_limit,
    describe_load,
    details,
    fmt_number,
    headline,
    run_tone,
    run_verdict,
    scenario_verdict,
    short_threshold,
    tally_line,
    tolerated_message,
    verdict_note,
    warning_lines,
)
from perfrun.scenario.model import Scenario

LIST_TABLE_ROWS = 500
"""Beyond this many scenarios `--list` prints plain tab-separated lines: a rich table of
20,000 rows takes a minute to lay out, and nobody reads it as a table anyway."""


def render_list(
    scenarios: Sequence[Scenario], console: Console, skipped: Sequence[Path] = ()
) -> None:
    if len(scenarios) > LIST_TABLE_ROWS:
        _plain_list(scenarios, console)
    else:
        _table_list(scenarios, console)
    for path in skipped:
        console.print(f"skipped {path}: not a scenario file (no top-level 'scenarios:' key)")


def _plain_list(scenarios: Sequence[Scenario], console: Console) -> None:
    # Scenarios share their thresholds (a type's defaults are one tuple): each is worded
    # once, by identity (a tuple's hash would read every threshold it holds).
    worded: dict[int, str] = {}

    def thresholds(s: Scenario) -> str:
        text = worded.get(id(s.thresholds))
        if text is None:
            text = worded[id(s.thresholds)] = (
                " ".join(short_threshold(t) for t in s.thresholds) or "none"
            )
        return text

    lines = [f"{len(scenarios)} scenario(s)", "name\ttype\tseverity\tload\ttarget\tthresholds"]
    lines += (
        "\t".join((s.name, s.type.value, s.severity.value, describe_load(s), s.base_url,
                   thresholds(s)))
        for s in scenarios
    )  # fmt: skip
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def _table_list(scenarios: Sequence[Scenario], console: Console) -> None:
    table = Table(title=f"{len(scenarios)} scenario(s)", title_justify="left")
    for column in ("name", "type", "severity", "load", "target", "thresholds"):
        table.add_column(column, overflow="fold")
    for s in scenarios:
        thresholds = " ".join(short_threshold(t) for t in s.thresholds)
        table.add_row(
            s.name,
            s.type.value,
            s.severity.value,
            describe_load(s),
            s.base_url,
            thresholds or "none",
        )
    console.print(table)


_TONE_STYLES = {Tone.PASS: "bold green", Tone.WARN: "bold yellow", Tone.FAIL: "bold red"}


def _verdict_text(verdict: Verdict) -> Text:
    style = _TONE_STYLES[VERDICT_TONES[verdict.status]]
    if verdict.status is VerdictStatus.NOT_MEASURED:
        style = "bold yellow"  # fails, but says why in its note rather than in red
    return Text(VERDICT_LABELS[verdict.status], style=style)


def _scenario_table(s: ScenarioReport) -> Table:
    label, tone = scenario_verdict(s)
    verdict = Text(label, style=_TONE_STYLES[tone])
    title = Text.assemble(s.name, " ", f"({s.type}, {s.severity}) ", verdict)
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("threshold")
    table.add_column("limit", justify="right")
    table.add_column("actual", justify="right")
    table.add_column("verdict")
    table.add_column("note", overflow="fold", style="dim")
    for v in s.thresholds:
        table.add_row(
            v.key,
            describe_limit(v),
            fmt_number(v.actual, 2),
            _verdict_text(v),
            verdict_note(v),
        )
    return table


_CHANGE_STYLE = {ChangeStatus.REGRESSION: "bold red", ChangeStatus.IMPROVEMENT: "green"}


def render_comparison(comparison: Comparison, console: Console) -> None:
    """One line per metric against the baseline: value, baseline, change and verdict."""
    parts = []
    for change in comparison.changes:
        if change.change_percent is None:
            continue
        text = (
            f"{change.metric} {fmt_number(change.current, 2)} vs {fmt_number(change.baseline, 2)}"
            f" ({change.change_percent:+.1f}%)"
        )
        style = _CHANGE_STYLE.get(change.status)
        parts.append(f"[{style}]{text}[/{style}]" if style else text)
    console.print(f"  vs baseline: {', '.join(parts) or 'nothing comparable'}", highlight=False)
    for change in comparison.changes:
        if change.note:
            console.print(f"  {change.note}", highlight=False)


def render_summary(report: RunReport, console: Console) -> None:
    console.print()
    for s in report.scenarios:
        _render_scenario(s, report.fail_on, console)
        console.print()
    if report.baseline is not None:
        b = report.baseline
        console.print(f"baseline: {b.source}", highlight=False, markup=False)
        for label, names in (("only in the baseline", b.only_in_baseline), ("new", b.only_in_run)):
            if names:
                console.print(f"  {label}: {', '.join(names)}", highlight=False, markup=False)
    verdict = run_verdict(report)
    style = _TONE_STYLES[run_tone(verdict)]
    joint = " after" if report.interrupted else ":"
    console.print(f"[{style}]{verdict}[/{style}]{joint} {tally_line(report)}")


def _detail_lines(s: ScenarioReport) -> list[tuple[str, str | None]]:
    """How the figures were measured, then what flags a scenario that passed."""
    lines: list[tuple[str, str | None]] = [(line, None) for line in details(s)]
    if s.passed:
        lines += [(f"warning: {line}", "yellow") for line in warning_lines(s)]
    elif s.fail_on_warn:
        lines += [(f"{line} (--fail-on-warn)", "red") for line in warning_lines(s)]
    return lines


def _resource_lines(s: ScenarioReport) -> list[tuple[str, str | None]]:
    """The target's CPU and memory in one line; the monitor's gaps, if any."""
    lines: list[tuple[str, str | None]] = []
    resources = s.resources
    if resources is not None and resources.target is not None:
        target = resources.target
        lines.append((
            f"target pid {target.pid}: CPU avg {fmt_number(target.cpu_percent.avg)}% "
            f"max {fmt_number(target.cpu_percent.max)}% · RSS max "
            f"{fmt_number(target.memory_mb.max)} MB",
            None,
        ))  # fmt: skip
    if resources is not None and resources.gaps:
        lines.append((
            f"monitor: {resources.gaps} sample(s) could not be taken and are left out "
            f"({resources.gap_reason}); the resource figures cover the rest",
            "yellow",
        ))  # fmt: skip
    return lines


def _render_scenario(s: ScenarioReport, fail_on: str, console: Console) -> None:
    def say(text: str, style: str | None = None) -> None:
        console.print(f"  {text}", style=style, highlight=False, markup=False)

    console.print(_scenario_table(s))
    say(headline(s))
    for line, style in (*_resource_lines(s), *_detail_lines(s)):
        say(line, style)
    if s.message:
        say(s.message, "yellow")
    if s.generator.saturated:
        say("GENERATOR SATURATED: " + "; ".join(s.generator.reasons) + ".", "bold yellow")
        verdict = "fail the scenario" if s.generator.fails_run else "are unreliable"
        say(f"{SATURATION_ADVICE} Its threshold verdicts {verdict}.", "yellow")
    for kind, detail in s.error_samples.items():
        say(f"first {kind}: {detail}", "dim")
    if s.comparison is not None:
        render_comparison(s.comparison, console)
    for insight in s.insights:
        say(f"insight: {insight.message}", "cyan")
    if s.tolerated:
        say(tolerated_message(s, fail_on), "yellow")
