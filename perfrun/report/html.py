"""The HTML report: one self-contained page, readable offline.

Everything is inline: the styles, the chart library (uPlot, vendored in `assets/`, see
`assets/VENDORED.md`), the report's data (the JSON report's dict, so the page and
`--output` agree figure for figure) and a small script that draws the charts from it.
Tables are rendered here, so they read fine even with scripts off; charts need scripts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from importlib.resources import files
from pathlib import Path

from perfrun.report.codec import to_dict
from perfrun.report.files import write_atomically
from perfrun.report.model import PHASES, RunReport, ScenarioReport, VerdictStatus
from perfrun.report.text import (
    SATURATION_ADVICE,
    VERDICT_LABELS,
    Tone,
    describe_limit,
    details,
    fmt_duration,
    fmt_number,
    headline,
    run_tone,
    run_verdict,
    scenario_verdict,
    tally_line,
    verdict_note,
    warning_lines,
)

ASSET_FILES = ("uPlot.min.css", "report.css", "uPlot.iife.min.js", "report.js")
LATENCY_COLUMNS = ("avg", "p50", "p95", "p99", "max")
CHARTS = (
    ("throughput", "Requests/s and errors/s"),
    ("latency", "Latency per second (ms)"),
    ("concurrency", "Active users and requests in flight"),
    ("transfer", "Transfer rate (bytes received/s)"),
    ("spectrum", "Latency percentile spectrum (ms)"),
    ("resources", "Target CPU % and memory MB"),
    ("generator", "Generator (perfrun) CPU % and memory MB"),
)
NO_TARGET_CAPTION = "System CPU % (no target process was monitored)"
PARTIAL_NOTE = (
    "Rates count over the part of a second that was measured: the load's last second, "
    "which ended early, is not shown as a drop."
)
NO_RATE_NOTE = (
    "The last second was measured for less than half of it: too short for a rate, so the "
    "rate charts leave it out."
)
OVERVIEW_HEADER = (
    "scenario", "type", "severity", "verdict", "requests", "req/s", "error %",
    "p50 ms", "p95 ms", "p99 ms",
)  # fmt: skip


def render_html(report: RunReport) -> str:
    """The whole report as one HTML document (no network access needed to view it)."""
    assets = {name: _asset(name) for name in ASSET_FILES}
    data = json.dumps(to_dict(report), ensure_ascii=False, separators=(",", ":"))
    title = f"perfrun report {report.started_at:%Y-%m-%d %H:%M}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>\n{assets['uPlot.min.css']}\n{assets['report.css']}\n</style>",
            "</head>",
            "<body>",
            _banner(report),
            "<main>",
            _run_meta(report),
            _overview(report),
            *(_scenario(s, index) for index, s in enumerate(report.scenarios)),
            "</main>",
            # `<` escaped: no string in the data can close the script element early.
            '<script type="application/json" id="perfrun-data">'
            + data.replace("<", "\\u003c")
            + "</script>",
            f"<script>\n{assets['uPlot.iife.min.js']}\n</script>",
            f"<script>\n{assets['report.js']}\n</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def write_html(report: RunReport, path: Path) -> None:
    """Write the HTML report atomically, like the JSON one (ReportError when it cannot)."""
    write_atomically(path, render_html(report))


def _asset(name: str) -> str:
    text = (files("perfrun.report") / "assets" / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"asset {name} would close its inline element early")
    return text


def _banner(report: RunReport) -> str:
    verdict = run_verdict(report)
    tone = run_tone(verdict)
    css = {Tone.PASS: "passed", Tone.FAIL: "failed"}.get(tone, "warn")
    if report.interrupted:
        css = "interrupted"
    counts = tally_line(report)
    return (
        f'<header class="banner {css}" id="verdict"><span class="verdict">{verdict}</span>'
        f"<span>{escape(counts)}</span></header>"
    )


def _run_meta(report: RunReport) -> str:
    env = report.environment
    wall = (report.finished_at - report.started_at).total_seconds()
    items: list[tuple[str, object]] = [
        ("perfrun", report.perfrun_version),
        ("started", report.started_at.isoformat(timespec="seconds")),
        ("took", f"{wall:.1f}s"),
        (
            "host",
            f"{env.get('host', '-')} ({env.get('cpu_count', '-')} CPUs, "
            f"{env.get('memory_mb', '-')} MB)",
        ),
        ("os", env.get("os", "-")),
        ("python", env.get("python", "-")),
        ("command", env.get("argv", "-")),
    ]
    if report.baseline is not None:
        items.append(("baseline", report.baseline.source))
        if report.baseline.only_in_baseline:
            items.append(("only in baseline", ", ".join(report.baseline.only_in_baseline)))
    rows = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(str(v))}</dd></div>" for k, v in items)
    return f'<section class="run"><dl class="meta">{rows}</dl></section>'


def _overview(report: RunReport) -> str:
    """With several scenarios, one row each at the top, linking to its section."""
    if len(report.scenarios) < 2:
        return ""
    rows = []
    for index, s in enumerate(report.scenarios):
        rows.append(
            (
                f'<a href="#scenario-{index}">{escape(s.name)}</a>',
                escape(str(s.type)),
                escape(str(s.severity)),
                _verdict_badge(s),
                f"{s.requests.total:,}",
                escape(fmt_number(s.requests.rps)),
                escape(fmt_number(s.requests.error_rate, 2)),
                *(escape(fmt_number(s.latency_ms.get(k))) for k in ("p50", "p95", "p99")),
            )
        )
    table = _table("Scenarios", OVERVIEW_HEADER, rows)
    return f'<section class="run overview" id="overview">{table}</section>'


def _verdict_badge(s: ScenarioReport) -> str:
    badge, tone = scenario_verdict(s)
    css = "tolerated" if s.tolerated else str(tone)
    return f'<span class="badge {css}">{escape(badge)}</span>'


def _scenario(s: ScenarioReport, index: int) -> str:
    facts = [
        f"type {s.type}",
        f"severity {s.severity}",
        f"status {s.status}",
        f"engine {s.engine}",
        _describe_load(s.load),
        s.base_url,
        s.source,
    ]
    parts = [
        f'<section class="scenario" id="scenario-{index}" data-scenario="{index}">',
        f"<h2>{escape(s.name)} {_verdict_badge(s)}</h2>",
        f'<p class="description">{escape(s.description)}</p>' if s.description else "",
        '<p class="facts">' + " · ".join(escape(f) for f in facts) + "</p>",
        _figures(s),
        f'<p class="headline">{escape(headline(s))}</p>',
    ]
    if s.message:
        parts.append(f'<p class="warning">{escape(s.message)}</p>')
    parts += [f'<p class="detail">{escape(line)}</p>' for line in details(s)]
    if s.passed:
        parts += [f'<p class="warning">{escape(line)}</p>' for line in warning_lines(s)]
    if s.generator.saturated:
        verdict = "fail the scenario" if s.generator.fails_run else "are unreliable"
        parts.append(
            '<div class="warning"><strong>Generator saturated:</strong> '
            + escape("; ".join(s.generator.reasons))
            + f". {escape(SATURATION_ADVICE)} Its threshold verdicts {verdict}.</div>"
        )
    parts += [
        _thresholds(s),
        _insights(s),
        _comparison(s),
        '<h3>Charts</h3><div class="charts">',
        *(_chart(s, index, name, caption) for name, caption in CHARTS),
        "</div>",
        _partial_note(s),
        _endpoints(s),
        _phases(s),
        _checks(s),
        _errors(s),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def _describe_load(load: Mapping[str, object]) -> str:
    open_model = load.get("model") == "open"
    unit = "req/s" if open_model else "users"
    duration = load.get("duration_s")
    stages = load.get("stages")
    if isinstance(stages, list) and stages:
        targets = " → ".join(f"{stage['target']:g}" for stage in stages)
        text = f"stages {load.get('start', 0):g} → {targets} {unit}"
    elif open_model:
        text = f"{load.get('rate')} req/s"
    else:
        per_user = load.get("requests_per_user")
        text = f"{load.get('users')} users" + (f" × {per_user} req" if per_user else "")
    if isinstance(duration, float | int):
        text += f" for {fmt_duration(duration)}"
    return f"{load.get('model')} model: {text}"


def _figures(s: ScenarioReport) -> str:
    lat, r = s.latency_ms, s.requests
    cards = [
        ("requests", f"{r.total:,}"),
        ("req/s", fmt_number(r.rps)),
        ("success", f"{fmt_number(r.success_rate, 2)} %"),
        *((f"{k} ms", fmt_number(lat.get(k))) for k in ("p50", "p95", "p99", "max")),
    ]
    return (
        '<div class="figures">'
        + "".join(
            f'<div class="figure"><span class="value">{escape(v)}</span>'
            f'<span class="label">{escape(k)}</span></div>'
            for k, v in cards
        )
        + "</div>"
    )


def _table(caption: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table whose cells are already-escaped HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<h3>{escape(caption)}</h3><div class="scroll"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


_BADGES = {
    VerdictStatus.PASS: "pass",
    VerdictStatus.FAIL: "fail",
    VerdictStatus.NOT_MEASURED: "unmeasured",
    VerdictStatus.WARN: "warn",
}


def _status_cell(status: VerdictStatus) -> str:
    return f'<span class="badge {_BADGES[status]}">{VERDICT_LABELS[status]}</span>'


def _thresholds(s: ScenarioReport) -> str:
    if not s.thresholds:
        return (
            '<h3>Thresholds</h3><p class="note">No thresholds (thresholds: none): '
            "nothing was judged.</p>"
        )
    rows = [
        (
            f"<code>{escape(v.key)}</code>",
            escape(describe_limit(v)),
            escape(fmt_number(v.actual, 2)),
            _status_cell(v.status),
            escape(verdict_note(v)),
        )
        for v in s.thresholds
    ]
    table = _table("Thresholds", ("threshold", "limit", "actual", "verdict", "note"), rows)
    if not s.thresholds_reliable:
        table += (
            '<p class="warning">These verdicts are unreliable: the generator was saturated, '
            "so they judge perfrun rather than the target.</p>"
        )
    return table


def _insights(s: ScenarioReport) -> str:
    if not s.insights:
        return ""
    items = "".join(
        f'<li><code>{escape(i.rule)}</code> {escape(i.message)}<span class="evidence">'
        + escape(", ".join(f"{k}={v}" for k, v in i.evidence.items()))
        + "</span></li>"
        for i in s.insights
    )
    return f'<h3>Insights</h3><ul class="insights">{items}</ul>'


def _comparison(s: ScenarioReport) -> str:
    if s.comparison is None:
        return ""
    rows = [
        (
            escape(c.metric),
            escape(fmt_number(c.baseline, 2)),
            escape(fmt_number(c.current, 2)),
            escape("-" if c.change_percent is None else f"{c.change_percent:+.1f} %"),
            escape(f"±{c.tolerance_percent:g} %"),
            f'<span class="change {escape(c.status)}">{escape(c.status)}</span>',
            escape(c.note),
        )
        for c in s.comparison.changes
    ]
    caption = f"Against the baseline ({s.comparison.source})"
    columns = ("metric", "baseline", "now", "change", "tolerance", "status", "note")
    return _table(caption, columns, rows)


def _chart(s: ScenarioReport, index: int, name: str, caption: str) -> str:
    empty = _empty_reason(s, name)
    if name == "resources" and s.resources is not None and s.resources.target is None:
        caption = NO_TARGET_CAPTION
    span = s.timeline[0].span_s if s.timeline else 1
    if span > 1:  # a long run's timeline is coarser (perfrun.metrics.timeline): say so
        if name == "throughput":
            caption = f"{caption}, averaged over {span} s per point"
        elif name == "latency":
            caption = f"Latency per {span} s (ms)"
        elif name in ("concurrency", "transfer"):
            caption = f"{caption}, averaged over {span} s per point"
    attrs = f'class="chart" data-chart="{name}" data-scenario="{index}"'
    if empty:
        return (
            f'<figure {attrs} data-chart-empty="true"><figcaption>{escape(caption)}'
            f'</figcaption><p class="note">{escape(empty)}</p></figure>'
        )
    return (
        f"<figure {attrs}><figcaption>{escape(caption)}</figcaption>"
        '<div class="plot"></div></figure>'
    )


def _empty_reason(s: ScenarioReport, name: str) -> str:
    """Why a chart has nothing to draw ("" when it has)."""
    if name in ("throughput", "latency", "concurrency", "transfer") and not s.timeline:
        return "No data: no request completed."
    if name == "latency" and all(p.p50_ms is None for p in s.timeline):
        return "No data: no request succeeded."
    if name == "spectrum" and not s.latency_spectrum:
        return "No data: no request succeeded."
    if name in ("resources", "generator") and (s.resources is None or not s.resources.samples):
        return "No data: no resource samples were taken."
    if name == "concurrency" and all(p.users is None and p.in_flight is None for p in s.timeline):
        return "No data: no users scheduled and no requests in flight sampled."
    if name == "transfer" and all(p.bytes_received is None for p in s.timeline):
        return "No data: no transfer was sampled."
    return ""


def _partial_note(s: ScenarioReport) -> str:
    """Say how a partly measured point is charted, when the timeline has one."""
    if not any(p.measured_s is not None and p.measured_s < p.span_s for p in s.timeline):
        return ""
    note = PARTIAL_NOTE
    if any(p.rate_s is None for p in s.timeline):  # the charts leave its rates out
        note += " " + NO_RATE_NOTE
    return f'<p class="note">{escape(note)}</p>'


def _endpoints(s: ScenarioReport) -> str:
    rows = [
        (
            escape(e.name),
            escape(e.method),
            f"<code>{escape(e.path)}</code>",
            f"{e.requests.total:,}",
            f"{e.requests.failed:,}",
            escape(fmt_number(e.requests.rps)),
            *(escape(fmt_number(e.latency_ms.get(k))) for k in LATENCY_COLUMNS),
            escape(", ".join(f"{k}={n}" for k, n in e.errors.items()) or "-"),
        )
        for e in s.endpoints
    ]
    latency = (f"{k} ms" for k in LATENCY_COLUMNS)
    header = ("endpoint", "method", "path", "requests", "failed", "req/s", *latency, "errors")
    return _table("Endpoints", header, rows)


def _phases(s: ScenarioReport) -> str:
    """Where the time goes, per endpoint: connect, wait for the first byte, receive."""
    columns = ("p50", "p95", "p99")
    rows = []
    for e in s.endpoints:
        if not any(p.count for p in e.phases.values()):
            continue
        cells = [escape(e.name)]
        for name in PHASES:
            phase = e.phases.get(name)
            if name == "connect":
                cells.append(f"{phase.count:,}" if phase else "-")
            cells += (escape(fmt_number(phase.ms.get(k) if phase else None, 2)) for k in columns)
        rows.append(cells)
    if not rows:
        return ""
    header = ["endpoint", "connects"]
    header += (f"{name} {k} ms" for name in PHASES for k in columns)
    return _table("Where the time goes (connect, wait for the first byte, receive)", header, rows)


def _checks(s: ScenarioReport) -> str:
    if not s.checks:
        return ""
    rows = [
        (escape(c.name), escape(c.endpoint), f"{c.evaluated:,}", f"{c.failed:,}") for c in s.checks
    ]
    return _table("Response checks", ("check", "endpoint", "evaluated", "failed"), rows)


def _errors(s: ScenarioReport) -> str:
    if not s.errors:
        return ""
    rows = [
        (f"<code>{escape(kind)}</code>", f"{count:,}", escape(s.error_samples.get(kind, "")))
        for kind, count in s.errors.items()
    ]
    return _table("Errors", ("kind", "count", "first message"), rows)
