"""Console renderers: the scenario list and the end-of-run summary (rich tables)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfrun.report.model import RunReport, ScenarioReport
from perfrun.scenario.model import Scenario
from perfrun.thresholds import FAIL, PASS, Verdict


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    if seconds < 1 and seconds > 0:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def fmt_number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def describe_load(scenario: Scenario) -> str:
    load = scenario.load
    how = (
        f"{load.users} users × {load.requests_per_user} req"
        if load.requests_per_user is not None
        else f"{load.users} users for {fmt_duration(load.duration)}"
    )
    extras = []
    if load.ramp_up:
        extras.append(f"ramp {fmt_duration(load.ramp_up)}")
    if load.think_time:
        extras.append(f"think {fmt_duration(load.think_time)}")
    return how + (f" ({', '.join(extras)})" if extras else "")


def describe_threshold_limit(key: str, limit: float) -> str:
    op = "≤" if key.startswith("max_") else "≥"
    return f"{op} {limit:g}"


_SHORT = {
    "_response_ms": ("", "ms"),
    "success_rate": ("success", "%"),
    "error_rate": ("errors", "%"),
    "cpu_percent": ("cpu", "%"),
    "memory_mb": ("mem", "MB"),
    "rps": ("rps", ""),
}


def short_threshold(key: str, limit: float) -> str:
    """`max_p95_response_ms: 500` → `p95≤500ms`, for compact listings."""
    name = key.split("_", 1)[1]
    op = "≤" if key.startswith("max_") else "≥"
    for suffix, (label, unit) in _SHORT.items():
        if name.endswith(suffix):
            return f"{label or name.removesuffix(suffix)}{op}{limit:g}{unit}"
    return f"{name}{op}{limit:g}"


def render_list(scenarios: Sequence[Scenario], console: Console) -> None:
    table = Table(title=f"{len(scenarios)} scenario(s)", title_justify="left")
    for column in ("name", "type", "severity", "load", "target", "thresholds"):
        table.add_column(column, overflow="fold")
    for s in scenarios:
        thresholds = " ".join(short_threshold(t.key, t.limit) for t in s.thresholds)
        table.add_row(
            s.name, s.type.value, s.severity.value, describe_load(s), s.base_url, thresholds or "-"
        )
    console.print(table)


def _verdict_text(verdict: Verdict) -> Text:
    if verdict.status == PASS:
        return Text("PASS", style="bold green")
    if verdict.status == FAIL:
        return Text("FAIL", style="bold red")
    return Text("NOT MEASURED", style="bold yellow")


def _scenario_table(s: ScenarioReport) -> Table:
    verdict = Text("PASS", style="bold green") if s.passed else Text("FAIL", style="bold red")
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
            describe_threshold_limit(v.key, v.limit),
            fmt_number(v.actual, 2),
            _verdict_text(v),
            v.note,
        )
    return table


def headline(s: ScenarioReport) -> str:
    r, lat = s.requests, s.latency_ms
    parts = [
        f"{r.total} requests in {s.duration_s:.2f}s",
        f"{fmt_number(r.rps)} req/s",
        f"success {fmt_number(r.success_rate, 2)}%",
        "latency "
        + " ".join(f"{k} {fmt_number(lat[k])}" for k in ("avg", "p50", "p95", "p99", "max"))
        + " ms",
    ]
    if s.errors:
        parts.append("errors " + ", ".join(f"{k}={n}" for k, n in s.errors.items()))
    return " · ".join(parts)


def render_summary(report: RunReport, console: Console) -> None:
    console.print()
    for s in report.scenarios:
        console.print(_scenario_table(s))
        console.print(f"  {headline(s)}", highlight=False)
        target = s.resources.target if s.resources else None
        if target is not None:
            console.print(
                f"  target pid {target.pid}: CPU avg {fmt_number(target.cpu_percent.avg)}% "
                f"max {fmt_number(target.cpu_percent.max)}% · RSS max "
                f"{fmt_number(target.memory_mb.max)} MB",
                highlight=False,
            )
        if s.message:
            console.print(f"  [yellow]{s.message}[/yellow]", highlight=False)
        for kind, detail in s.error_samples.items():
            console.print(f"  first {kind}: {detail}", style="dim", highlight=False, markup=False)
        console.print()
    passed = sum(1 for s in report.scenarios if s.passed)
    failed = len(report.scenarios) - passed
    line = f"{passed} passed, {failed} failed"
    if report.interrupted:
        console.print(f"[bold yellow]INTERRUPTED[/bold yellow] after {line}")
    elif report.passed:
        console.print(f"[bold green]PASSED[/bold green]: {line}")
    else:
        console.print(f"[bold red]FAILED[/bold red]: {line}")
