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

from perfrun.report.files import write_atomically
from perfrun.report.model import Outcome, RunReport, ScenarioReport
from perfrun.report.text import (
    Tone,
    failure_lines,
    headline,
    run_verdict,
    scenario_verdict,
    tolerated_message,
    warning_lines,
)

# Characters XML 1.0 cannot carry at all, not even escaped (control characters from a
# server's error body, say): replaced so the report stays well-formed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: RunReport) -> str:
    """The report as a JUnit XML document (UTF-8 text, with its XML declaration)."""
    tally = report.tally
    suite_time = (report.finished_at - report.started_at).total_seconds()
    root = ET.Element("testsuites")
    suite = _child(
        root,
        "testsuite",
        name="perfrun",
        package="perfrun",
        id="0",
        tests=str(len(report.scenarios)),
        failures=str(tally.failed),
        errors=str(tally.errored),
        skipped=str(tally.tolerated),
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
    for s in report.scenarios:
        label, tone = scenario_verdict(s)
        if tone is Tone.WARN and s.passed:
            # A warning is no failure: the strict schema has no place for it in the test
            # case, so the suite carries it (and its system-out spells it out).
            suite_properties[f"verdict.{s.name}"] = label
    for name, value in suite_properties.items():
        _child(properties, "property", name=name, value=value)
    for s in report.scenarios:
        _testcase(suite, s, report.fail_on)
    _child(suite, "system-out", _system_out(report))
    _child(suite, "system-err", "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write_junit(report: RunReport, path: Path) -> None:
    """Write the JUnit report atomically (ReportError when it cannot be written)."""
    write_atomically(path, render_junit(report))


def _testcase(suite: ET.Element, s: ScenarioReport, fail_on: str) -> None:
    case = _child(suite, "testcase", name=s.name, classname=s.type, time=_seconds(s.duration_s))
    lines = failure_lines(s)
    details = "\n".join([f"{s.name} ({s.type}, severity {s.severity})", *lines, headline(s)])
    result = s.outcome
    if result is Outcome.FAILED:
        count = sum(1 for v in s.thresholds if not v.passed)
        message = f"{count} threshold{'s' if count != 1 else ''} failed" if count else lines[0]
        _child(case, "failure", details, message=message, type="thresholds")
    elif result is Outcome.ERRORED:
        _child(case, "error", details, message=lines[0], type=s.status)
    elif result is Outcome.TOLERATED:
        _child(case, "skipped", details, message=tolerated_message(s, fail_on))


def _system_out(report: RunReport) -> str:
    """Headline figures and insights of every scenario: the one per-run text the strict
    schema allows (Jenkins shows it on each test case that has none of its own)."""
    verdict = run_verdict(report) if report.passed else "FAILED"  # interrupted: failed
    lines = [f"perfrun {report.perfrun_version}: {verdict} (--fail-on {report.fail_on})"]
    if report.interrupted:
        lines.append("INTERRUPTED: the figures cover the run until then")
    for s in report.scenarios:
        label, tone = scenario_verdict(s)
        label = s.outcome.upper() + (f" ({label})" if s.passed and tone is Tone.WARN else "")
        lines.append(f"{s.name} ({s.type}, severity {s.severity}): {label}")
        lines.append(f"  {headline(s)}")
        lines.extend(f"  {line}" for line in failure_lines(s))
        if s.passed:
            lines.extend(f"  warning: {line}" for line in warning_lines(s))
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
