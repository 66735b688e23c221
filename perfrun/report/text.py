"""The wording every renderer shares: numbers, durations, loads, verdicts, failure reasons
and the run's tally, so the console, HTML, JUnit and Markdown say the same thing the same
way. Reads the report model and the scenario; renders nothing itself.
"""

from __future__ import annotations

import enum

from perfrun.report.model import Outcome, RunReport, ScenarioReport, Verdict, VerdictStatus
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import LoadModel, Scenario, ScenarioStatus, Threshold

SATURATION_ADVICE = (
    "The load generator was the bottleneck, so these figures describe perfrun more than "
    "the target. Lower the load, raise max_in_flight if requests waited for a slot, or "
    "run perfrun on a machine (or cores) of its own."
)

VERDICT_LABELS = {
    VerdictStatus.PASS: "PASS",
    VerdictStatus.FAIL: "FAIL",
    VerdictStatus.NOT_MEASURED: "NOT MEASURED",
    VerdictStatus.WARN: "WARN",
}


class Tone(enum.StrEnum):
    """How a verdict reads at a glance: green, yellow or red in every renderer."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


VERDICT_TONES = {
    VerdictStatus.PASS: Tone.PASS,
    VerdictStatus.FAIL: Tone.FAIL,
    VerdictStatus.NOT_MEASURED: Tone.FAIL,
    VerdictStatus.WARN: Tone.WARN,
}

NO_THRESHOLDS = "NO THRESHOLDS"
UNRELIABLE = "PASS, unreliable"


def scenario_verdict(s: ScenarioReport) -> tuple[str, Tone]:
    """A scenario's label and tone: only a clean pass is green. A saturated generator
    makes it `PASS, unreliable`, a warning `WARN`, and no threshold at all `NO
    THRESHOLDS` (yellow: nothing was judged, so nothing passed)."""
    result = s.outcome
    if result is Outcome.FAILED:
        return "FAIL", Tone.FAIL
    if result is Outcome.ERRORED:
        return s.status.upper(), Tone.FAIL
    if result is Outcome.TOLERATED:
        return "FAIL (tolerated)", Tone.WARN
    if not s.thresholds_reliable:
        return UNRELIABLE, Tone.WARN
    if s.warned:
        return "WARN", Tone.WARN
    if not s.judged:
        return NO_THRESHOLDS, Tone.WARN
    return "PASS", Tone.PASS


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


def short_threshold(t: Threshold) -> str:
    """`max_p95_response_ms: 500` → `p95≤500ms`, for compact listings; with its warn
    level, window, abort, request and whether it is the type's default:
    `login:p95≤500ms(warn 300)/10s!abort`, `rps≥10 (default)`."""
    name = t.key.split("_", 1)[1]
    op = "≤" if t.key.startswith("max_") else "≥"
    text = f"{name}{op}{t.limit:g}"
    for suffix, (label, unit) in _SHORT.items():
        if name.endswith(suffix):
            text = f"{label or name.removesuffix(suffix)}{op}{t.limit:g}{unit}"
            break
    if t.request is not None:
        text = f"{t.request}:{text}"
    if t.warn is not None:
        text += f"(warn {t.warn:g})"
    if t.over is not None:
        text += f"/{fmt_duration(t.over)}"
    if t.abort:
        text += "!abort"
    return text + (" (default)" if t.default else "")


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
    lines.extend(share_lines(s))
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


def share_lines(s: ScenarioReport) -> list[str]:
    """On a Dask cluster: one line per share (where, what, its CPU and clock), and its
    warnings."""
    generator = s.generator
    if generator.cluster is None:
        return []
    lines = [f"cluster {generator.cluster}: {len(generator.shares)} shares"]
    for share in generator.shares:
        cpu = "" if share.cpu_percent is None else f", CPU {share.cpu_percent:.0f}%"
        state = " LOST" if share.lost else (" saturated" if share.saturated else "")
        lines.append(
            f"  share {share.index} on {share.worker}: {share.load}, {share.requests} requests"
            f"{cpu}, clock {share.clock_offset_ms:+.1f} ms{state}"
        )
        lines.extend(f"  share {share.index}: warning: {w}" for w in share.warnings)
    return lines


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


def describe_limit(v: Verdict) -> str:
    """`≤ 500 (warn ≤ 300) over 10s`, `≥ 10 (default)`."""
    text = f"{bound_symbol(v.bound)} {v.limit:g}"
    if v.warn is not None:
        text += f" (warn {bound_symbol(v.bound)} {v.warn:g})"
    if v.over_s is not None:
        text += f" over {fmt_duration(v.over_s)}"
    if v.default:
        text += " (default)"
    return text


def window_text(v: Verdict) -> str:
    """`first failing window 4s–7s: 812.5`, or "" for a verdict without one."""
    if v.window is None:
        return ""
    w = v.window
    value = "-" if w.value is None else fmt_value(w.value)
    kind = "failing" if v.status is VerdictStatus.FAIL else "warning"
    return f"first {kind} window {w.start_s}s–{w.end_s}s: {value}"


def verdict_note(v: Verdict) -> str:
    """A verdict table's note: its window, if any, then its note."""
    return "; ".join(part for part in (window_text(v), v.note) if part)


def verdict_line(v: Verdict) -> str:
    """`max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)`; a window threshold names
    its first failing (or warning) window."""
    actual = "not measured" if v.actual is None else f"actual {fmt_value(v.actual)}"
    if v.over_s is not None and v.actual is not None:
        actual = f"worst window {fmt_value(v.actual)}"
    line = f"{v.key}: limit {describe_limit(v)}, {actual} ({VERDICT_LABELS[v.status]})"
    if v.window is not None:
        line += f"; {window_text(v)}"
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
    if not s.passed and s.fail_on_warn:
        lines.extend(f"{line} (--fail-on-warn)" for line in warning_lines(s))
    return lines


def warning_lines(s: ScenarioReport) -> list[str]:
    """What flags a scenario without failing it (unless --fail-on-warn): verdicts between
    their warn level and their limit, and a saturated generator's unreliable verdicts."""
    lines = [verdict_line(v) for v in s.thresholds if v.warned]
    if s.generator.saturated and not s.generator.fails_run:
        lines.append(
            "verdicts unreliable, the pass inconclusive: the generator was saturated ("
            + "; ".join(s.generator.reasons)
            + ")"
        )
    return lines


def tolerated_message(s: ScenarioReport, fail_on: str) -> str:
    return f"failure tolerated: severity {s.severity} is below --fail-on {fail_on}"


def run_verdict(report: RunReport) -> str:
    """INTERRUPTED, FAILED, NO THRESHOLDS (nothing was judged), PASSED WITH WARNINGS
    or PASSED."""
    if report.interrupted:
        return "INTERRUPTED"
    if not report.passed:
        return "FAILED"
    if not any(s.judged for s in report.scenarios):
        return NO_THRESHOLDS
    return "PASSED WITH WARNINGS" if report.tally.warned else "PASSED"


def run_tone(verdict: str) -> Tone:
    return {"PASSED": Tone.PASS, "FAILED": Tone.FAIL}.get(verdict, Tone.WARN)


def tally_line(report: RunReport) -> str:
    """`3 passed, 1 failed, 1 tolerated (severity below --fail-on high)`: the same counts in
    every renderer; a tolerated failure is counted once, as tolerated."""
    t = report.tally
    line = f"{t.passed} passed"
    asides = [f"{t.warned} with warnings"] if t.warned else []
    if t.unjudged:
        asides.append(f"{t.unjudged} without thresholds")
    if asides:
        line += f" ({', '.join(asides)})"
    line += f", {t.not_passed} failed"
    if t.tolerated:
        line += f", {t.tolerated} tolerated (severity below --fail-on {report.fail_on})"
    return line
