"""The Markdown summary (--markdown, and $GITHUB_STEP_SUMMARY): GitHub-flavoured, compact.

A verdict line, one table row per scenario, then only what needs reading: the failed
thresholds spelled out (the same lines as the JUnit failure text), insights and the
baseline comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from perfrun.errors import ReportError
from perfrun.report.files import write_atomically
from perfrun.report.model import ChangeStatus, Comparison, Outcome, RunReport, ScenarioReport
from perfrun.report.text import (
    Tone,
    cycles_line,
    failure_lines,
    fmt_number,
    run_tone,
    run_verdict,
    scenario_verdict,
    tally_line,
    warning_lines,
)

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

HEADER = (
    "| scenario | type | severity | requests | req/s | p50 ms | p95 ms | p99 ms | errors % "
    "| verdict |"
)


def render_markdown(report: RunReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [_title(report), "", HEADER, "|" + "---|" * 3 + "---:|" * 6 + "---|"]
    lines.extend(_row(s) for s in report.scenarios)
    for s in report.scenarios:
        section = _details(s, report.fail_on)
        if section:
            lines.extend(["", *section])
    return "\n".join(lines) + "\n"


def write_markdown(report: RunReport, path: Path) -> None:
    """Write the Markdown report atomically (ReportError when it cannot be written)."""
    write_atomically(path, render_markdown(report))


def append_step_summary(report: RunReport, environ: Mapping[str, str]) -> Path | None:
    """Append the Markdown to the file $GITHUB_STEP_SUMMARY names, if set (GitHub Actions
    collects every step's appends, so this appends rather than replaces); its path, or None."""
    name = environ.get(STEP_SUMMARY_ENV)
    if not name:
        return None
    path = Path(name)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(render_markdown(report) + "\n")
    except OSError as exc:
        raise ReportError(
            f"cannot append to {STEP_SUMMARY_ENV} file {path}: {exc.strerror or exc}"
        ) from None
    return path


_ICONS = {Tone.PASS: "✅", Tone.WARN: "⚠️", Tone.FAIL: "❌"}


def _title(report: RunReport) -> str:
    verdict = run_verdict(report)
    icon = "❌" if report.interrupted else _ICONS[run_tone(verdict)]
    return f"### {icon} perfrun: {verdict.lower()} — {tally_line(report)}"


def _row(s: ScenarioReport) -> str:
    lat = s.latency_ms
    cells = [
        _cell(s.name),
        _cell(s.type),
        _cell(s.severity),
        str(s.requests.total),
        fmt_number(s.requests.rps),
        fmt_number(lat.get("p50")),
        fmt_number(lat.get("p95")),
        fmt_number(lat.get("p99")),
        fmt_number(s.requests.error_rate, 2),
        _verdict(s),
    ]
    return "| " + " | ".join(cells) + " |"


def _verdict(s: ScenarioReport) -> str:
    label, tone = scenario_verdict(s)
    return f"{_ICONS[tone]} {_cell(label.lower())}"


def _details(s: ScenarioReport, fail_on: str) -> list[str]:
    body = [f"- {_text(line)}" for line in failure_lines(s)]
    if cycles := cycles_line(s):
        body.append(f"- {_text(cycles)}")
    if s.passed:
        body.extend(f"- ⚠️ {_text(line)}" for line in warning_lines(s))
    body.extend(f"- 💡 {_text(i.message)}" for i in s.insights)
    if s.comparison is not None:
        body.append(f"- {_comparison(s.comparison)}")
    if not body:
        return []
    heading = f"**{_text(s.name)}**"
    result = s.outcome
    if result is Outcome.TOLERATED:
        heading += f" — failed, tolerated (severity {s.severity} below --fail-on {fail_on})"
    elif result is Outcome.PASSED:
        label, tone = scenario_verdict(s)
        heading += f" — {_text(label.lower())}" if tone is not Tone.PASS else ""
    else:
        heading += " — " + (_text(s.status) if result is Outcome.ERRORED else "failed")
    return [heading, *body]


def _comparison(comparison: Comparison) -> str:
    moved = [
        f"{c.metric} {c.change_percent:+.1f}% ({c.status})"
        for c in comparison.changes
        if c.status in (ChangeStatus.REGRESSION, ChangeStatus.IMPROVEMENT)
        and c.change_percent is not None
    ]
    against = f"vs baseline {_text(comparison.source)}"
    skipped = [c.metric for c in comparison.changes if c.note]
    aside = f"; {', '.join(skipped)} not compared (too few requests)" if skipped else ""
    return f"{against}: " + (", ".join(moved) if moved else "no change beyond tolerance") + aside


def _text(text: str) -> str:
    """Free text into Markdown: one line, and no raw HTML (GitHub would render it)."""
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")
