"""Console renderers: the scenario list and the end-of-run summary (rich tables)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfrun.judge.saturation import ADVICE
from perfrun.judge.thresholds import FAIL, PASS, Verdict
from perfrun.report.model import Comparison, RunReport, ScenarioReport
from perfrun.scenario.model import LoadModel, Scenario


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
    if load.stages:
        unit = "req/s" if load.model is LoadModel.OPEN else "users"
        targets = " → ".join(f"{stage.target:g}" for stage in load.stages)
        how = f"stages {load.start:g} → {targets} {unit} over {fmt_duration(load.duration)}"
    elif load.model is LoadModel.OPEN:
        how = f"{load.rate:g} req/s for {fmt_duration(load.duration)}"
        if load.arrival.value != "uniform":
            how += f" ({load.arrival.value})"
    else:
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
    if load.warmup:
        extras.append(f"warm-up {fmt_duration(load.warmup)}")
    return how + (f" ({', '.join(extras)})" if extras else "")


def describe_threshold_limit(bound: str, limit: float) -> str:
    return f"{'≤' if bound == 'max' else '≥'} {fmt_number(limit, 2)}"


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
            describe_threshold_limit(v.bound, v.limit),
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


def details(s: ScenarioReport) -> list[str]:
    """Lines on how the figures were measured: latency basis, schedule, warm-up, checks."""
    lines = []
    service = s.service_time_ms
    if s.latency_basis == "intended_send_time":
        lines.append(
            "latency is measured from each request's intended send time (corrected for "
            "coordinated omission); service time from the actual send: "
            + " ".join(f"{k} {fmt_number(service[k])}" for k in ("p50", "p95", "p99", "max"))
            + " ms"
        )
    if s.schedule is not None:
        sch = s.schedule
        lines.append(
            f"schedule: {sch.sent} of {sch.due} due requests sent, {sch.late} late, "
            f"{sch.dropped} dropped; send delay p99 {fmt_number(sch.send_delay_ms['p99'])} ms"
        )
        if sch.capped:
            lines.append(
                f"{sch.capped} requests waited for a free slot (max_in_flight reached): the "
                "target's latency held them back; their wait is in the latency figures. "
                "Raise max_in_flight for the target to get the full rate."
            )
    if s.warmup is not None:
        w = s.warmup
        lines.append(
            f"warm-up {fmt_duration(w.duration_s)}: {w.requests.total} requests "
            f"({w.requests.failed} failed) sent and left out of the figures above"
        )
    for check in s.checks:
        if check.failed:
            lines.append(f"check failed {check.failed} of {check.evaluated}: {check.name}")
    return lines


_CHANGE_STYLE = {"regression": "bold red", "improvement": "green"}


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
        for line in details(s):
            console.print(f"  {line}", highlight=False, markup=False)
        if s.message:
            console.print(f"  {s.message}", style="yellow", highlight=False, markup=False)
        if s.generator.saturated:
            console.print(
                "  GENERATOR SATURATED: " + "; ".join(s.generator.reasons) + ".",
                style="bold yellow",
                highlight=False,
                markup=False,
            )
            verdict = "fail the scenario" if s.generator.fails_run else "are unreliable"
            console.print(
                f"  {ADVICE} Its threshold verdicts {verdict}.",
                style="yellow",
                highlight=False,
                markup=False,
            )
        for kind, detail in s.error_samples.items():
            console.print(f"  first {kind}: {detail}", style="dim", highlight=False, markup=False)
        if s.comparison is not None:
            render_comparison(s.comparison, console)
        for insight in s.insights:
            console.print(
                f"  insight: {insight.message}", style="cyan", highlight=False, markup=False
            )
        if s.tolerated:
            console.print(
                f"  failure tolerated: severity {s.severity} is below --fail-on {report.fail_on}",
                style="yellow",
                highlight=False,
                markup=False,
            )
        console.print()
    if report.baseline is not None:
        b = report.baseline
        console.print(f"baseline: {b.source}", highlight=False, markup=False)
        for label, names in (("only in the baseline", b.only_in_baseline), ("new", b.only_in_run)):
            if names:
                console.print(f"  {label}: {', '.join(names)}", highlight=False, markup=False)
    passed = sum(1 for s in report.scenarios if s.passed)
    tolerated = sum(1 for s in report.scenarios if s.tolerated)
    failed = len(report.scenarios) - passed
    line = f"{passed} passed, {failed} failed"
    if tolerated:
        line += f" ({tolerated} tolerated below --fail-on {report.fail_on})"
    if report.interrupted:
        console.print(f"[bold yellow]INTERRUPTED[/bold yellow] after {line}")
    elif report.passed:
        console.print(f"[bold green]PASSED[/bold green]: {line}")
    else:
        console.print(f"[bold red]FAILED[/bold red]: {line}")
