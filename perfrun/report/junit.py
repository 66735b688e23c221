"""The JUnit XML report (--junit): one test suite for the run, one test case per scenario.

The document validates against both common JUnit schemas: the strict Apache Ant one
(windyroad JUnit.xsd) and the looser one Jenkins' xUnit plugin ships (junit-10.xsd); GitLab
and GitHub reporters read the same subset. The strict schema allows neither properties nor
system-out inside a test case, so the severity of each scenario is a suite property
(`severity.NAME`) and is spelled out in the failure text and the suite's system-out, next to
each scenario's headline figures. The test case name stays the bare scenario name, so CI test
history follows a scenario across runs even when its severity changes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from perfrun.judge.thresholds import FAIL, PASS, Verdict
from perfrun.report.codec import write_atomically
from perfrun.report.console import headline
from perfrun.report.model import RunReport, ScenarioReport
from perfrun.run.runner import COMPLETED

PASSED = "passed"
FAILED = "failed"
ERRORED = "error"
TOLERATED = "tolerated"

# Characters XML 1.0 cannot carry at all, not even escaped (control characters from a
# server's error body, say): replaced so the report stays well-formed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def outcome(s: ScenarioReport) -> str:
    """passed | tolerated (failed below --fail-on) | error (did not complete) | failed."""
    if s.passed:
        return PASSED
    if s.tolerated:
        return TOLERATED
    if s.status != COMPLETED:
        return ERRORED
    return FAILED


def fmt_value(value: float) -> str:
    """Up to 2 decimals, no trailing zeros: 812.4, 500, 0.05."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def verdict_line(v: Verdict) -> str:
    """`max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)`."""
    op = "≤" if v.bound == "max" else "≥"
    actual = "not measured" if v.actual is None else f"actual {fmt_value(v.actual)}"
    status = "FAIL" if v.status == FAIL else "NOT MEASURED"
    line = f"{v.key}: limit {op} {v.limit:g}, {actual} ({status})"
    if v.status != FAIL and v.note:
        line += f": {v.note}"
    return line


def failed_verdicts(s: ScenarioReport) -> list[Verdict]:
    """Thresholds and baseline regressions (`regression.*`) that did not pass."""
    return [v for v in s.thresholds if v.status != PASS]


def failure_lines(s: ScenarioReport) -> list[str]:
    """Every reason the scenario did not pass, one line each (shared with the Markdown)."""
    lines = []
    if s.status != COMPLETED:
        lines.append(s.message or f"scenario {s.status}")
    lines.extend(verdict_line(v) for v in failed_verdicts(s))
    if s.generator.saturated and s.generator.fails_run:
        lines.append(
            "generator saturated (--on-saturation fail): " + "; ".join(s.generator.reasons)
        )
    elif not s.thresholds_reliable and lines:
        lines.append("verdicts unreliable: perfrun itself was saturated, not only the target")
    return lines


def tolerated_message(s: ScenarioReport, fail_on: str) -> str:
    return f"failure tolerated: severity {s.severity} is below --fail-on {fail_on}"


def render_junit(report: RunReport) -> str:
    """The report as a JUnit XML document (UTF-8 text, with its XML declaration)."""
    outcomes = [outcome(s) for s in report.scenarios]
    suite_time = (report.finished_at - report.started_at).total_seconds()
    root = ET.Element("testsuites")
    suite = _child(
        root,
        "testsuite",
        name="perfrun",
        package="perfrun",
        id="0",
        tests=str(len(report.scenarios)),
        failures=str(outcomes.count(FAILED)),
        errors=str(outcomes.count(ERRORED)),
        skipped=str(outcomes.count(TOLERATED)),
        time=_seconds(suite_time),
        timestamp=_timestamp(report.started_at),
        hostname=str(report.environment.get("host") or "localhost"),
    )
    properties = _child(suite, "properties")
    suite_properties = {
        "perfrun_version": report.perfrun_version,
        "fail_on": report.fail_on,
        "passed": str(report.passed).lower(),
        "interrupted": str(report.interrupted).lower(),
    }
    if report.baseline is not None:
        suite_properties["baseline"] = report.baseline.source
    for s in report.scenarios:
        suite_properties[f"severity.{s.name}"] = s.severity
    for name, value in suite_properties.items():
        _child(properties, "property", name=name, value=value)
    for s, result in zip(report.scenarios, outcomes, strict=True):
        _testcase(suite, s, result, report.fail_on)
    _child(suite, "system-out", _system_out(report))
    _child(suite, "system-err", "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write_junit(report: RunReport, path: Path) -> None:
    """Write the JUnit report atomically (ReportError when it cannot be written)."""
    write_atomically(path, render_junit(report))


def _testcase(suite: ET.Element, s: ScenarioReport, result: str, fail_on: str) -> None:
    case = _child(suite, "testcase", name=s.name, classname=s.type, time=_seconds(s.duration_s))
    lines = failure_lines(s)
    details = "\n".join([f"{s.name} ({s.type}, severity {s.severity})", *lines, headline(s)])
    if result == FAILED:
        count = len(failed_verdicts(s))
        message = f"{count} threshold{'s' if count != 1 else ''} failed" if count else lines[0]
        _child(case, "failure", details, message=message, type="thresholds")
    elif result == ERRORED:
        _child(case, "error", details, message=lines[0], type=s.status)
    elif result == TOLERATED:
        _child(case, "skipped", details, message=tolerated_message(s, fail_on))


def _system_out(report: RunReport) -> str:
    """Headline figures and insights of every scenario: the one per-run text the strict
    schema allows (Jenkins shows it on each test case that has none of its own)."""
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [f"perfrun {report.perfrun_version}: {verdict} (--fail-on {report.fail_on})"]
    if report.interrupted:
        lines.append("INTERRUPTED: the figures cover the run until then")
    for s in report.scenarios:
        lines.append(f"{s.name} ({s.type}, severity {s.severity}): {outcome(s).upper()}")
        lines.append(f"  {headline(s)}")
        lines.extend(f"  {line}" for line in failure_lines(s))
        lines.extend(f"  insight: {i.message}" for i in s.insights)
    return "\n".join(lines) + "\n"


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_safe(text)
    return element


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _timestamp(moment: datetime) -> str:
    """UTC, to the second, without a zone: the form the Ant schema requires."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")
