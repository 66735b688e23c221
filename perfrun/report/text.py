"""The wording every renderer shares: numbers, durations, loads, verdicts, failure reasons
and the run's tally, so the console, HTML, JUnit and Markdown say the same thing the same
way. Reads the report model and the scenario; renders nothing itself.
"""

from __future__ import annotations

from perfrun.report.model import RunReport, ScenarioReport, Verdict, VerdictStatus
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import LoadModel, Scenario, ScenarioStatus

SATURATION_ADVICE = (
    "The load generator was the bottleneck, so these figures describe perfrun more than "
    "the target. Lower the load, raise max_in_flight if requests waited for a slot, or "
    "run perfrun on a machine (or cores) of its own."
)

VERDICT_LABELS = {
    VerdictStatus.PASS: "PASS",
    VerdictStatus.FAIL: "FAIL",
    VerdictStatus.NOT_MEASURED: "NOT MEASURED",
}


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


def fmt_value(value: float) -> str:
    """Up to 2 decimals, no trailing zeros: 812.4, 500, 0.05."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


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
    if load.cycles > 1 or load.rest:
        extras.append(f"{load.cycles} cycles, rest {fmt_duration(load.rest)}")
    return how + (f" ({', '.join(extras)})" if extras else "")


def bound_symbol(bound: Bound) -> str:
    return "≤" if bound is Bound.MAX else "≥"


def describe_threshold_limit(bound: Bound, limit: float) -> str:
    return f"{bound_symbol(bound)} {fmt_number(limit, 2)}"


_SHORT = {
    "_response_ms": ("", "ms"),
    "success_rate": ("success", "%"),
    "error_rate": ("errors", "%"),
    "cpu_percent": ("cpu", "%"),
    "memory_mb": ("mem", "MB"),
    "_mb_per_hour": ("", "MB/h"),
    "_mb_per_cycle": ("", "MB/cycle"),
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
    """Lines on how the figures were measured: the launched target, latency basis,
    schedule, warm-up, checks."""
    lines = []
    if s.target is not None:
        lines.append(
            f"launched target pid {s.target.pid} (scope {s.target.scope}), "
            f"its output in {s.target.log}"
        )
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
    phases = phases_line(s)
    if phases:
        lines.append(phases)
    cycles = cycles_line(s)
    if cycles:
        lines.append(cycles)
    for check in s.checks:
        if check.failed:
            lines.append(f"check failed {check.failed} of {check.evaluated}: {check.name}")
    return lines


def cycles_line(s: ScenarioReport) -> str:
    """Leak cycles: the target's RSS after each rest and its trend; "" without cycles."""
    target = s.resources.target if s.resources is not None else None
    if target is None or target.memory_growth_mb_per_cycle is None:
        return ""
    readings = " → ".join(fmt_number(mb) for mb in target.memory_mb_per_cycle) or "none"
    trend = target.memory_growth_mb_per_cycle
    if trend.slope is None:
        return f"leak cycles: target RSS after each rest {readings} MB ({trend.note})"
    interval = (
        f", 95 % CI {fmt_number(trend.low, 2)} to {fmt_number(trend.high, 2)}"
        if trend.low is not None and trend.high is not None
        else ""
    )
    return (
        f"leak cycles: target RSS after each rest {readings} MB "
        f"({trend.slope:+.2f} MB/cycle{interval})"
    )


def phases_line(s: ScenarioReport) -> str:
    """Where the time went, all endpoints together; "" when nothing was timed."""
    parts = []
    for name, label in (("wait", "waiting for the first byte"), ("receive", "receiving")):
        phase = s.phases.get(name)
        if phase is not None and phase.count:
            ms = phase.ms
            figures = " ".join(f"{k} {fmt_number(ms[k], 2)}" for k in ("p50", "p95", "p99"))
            parts.append(f"{label} {figures} ms")
    connect = s.phases.get("connect")
    if connect is not None and connect.count:
        parts.append(
            f"{connect.count} connections opened, p50 {fmt_number(connect.ms['p50'], 2)} "
            f"p99 {fmt_number(connect.ms['p99'], 2)} ms"
        )
    return "where the time went: " + " · ".join(parts) if parts else ""


def verdict_line(v: Verdict) -> str:
    """`max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)`."""
    actual = "not measured" if v.actual is None else f"actual {fmt_value(v.actual)}"
    line = (
        f"{v.key}: limit {bound_symbol(v.bound)} {v.limit:g}, {actual} ({VERDICT_LABELS[v.status]})"
    )
    if v.status is not VerdictStatus.FAIL and v.note:
        line += f": {v.note}"
    return line


def failure_lines(s: ScenarioReport) -> list[str]:
    """Every reason the scenario did not pass, one line each."""
    lines = []
    if s.status is not ScenarioStatus.COMPLETED:
        lines.append(s.message or f"scenario {s.status}")
    lines.extend(verdict_line(v) for v in s.thresholds if not v.passed)
    if s.generator.saturated and s.generator.fails_run:
        lines.append(
            "generator saturated (--on-saturation fail): " + "; ".join(s.generator.reasons)
        )
    elif not s.thresholds_reliable and lines:
        lines.append("verdicts unreliable: perfrun itself was saturated, not only the target")
    return lines


def tolerated_message(s: ScenarioReport, fail_on: str) -> str:
    return f"failure tolerated: severity {s.severity} is below --fail-on {fail_on}"


def run_verdict(report: RunReport) -> str:
    """PASSED, FAILED or INTERRUPTED."""
    if report.interrupted:
        return "INTERRUPTED"
    return "PASSED" if report.passed else "FAILED"


def tally_line(report: RunReport) -> str:
    """`3 passed, 1 failed, 1 tolerated (severity below --fail-on high)`: the same counts in
    every renderer; a tolerated failure is counted once, as tolerated."""
    t = report.tally
    line = f"{t.passed} passed, {t.not_passed} failed"
    if t.tolerated:
        line += f", {t.tolerated} tolerated (severity below --fail-on {report.fail_on})"
    return line
