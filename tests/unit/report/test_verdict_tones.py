"""WARN verdicts, unreliable passes and unjudged scenarios read the same in every renderer:
yellow, never a green PASS, and (but for --fail-on-warn) not failing the run."""

from __future__ import annotations

import dataclasses
import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
import xmlschema
from rich.console import Console

from perfrun.report.codec import to_dict
from perfrun.report.console import render_summary
from perfrun.report.html import render_html
from perfrun.report.junit import render_junit
from perfrun.report.markdown import render_markdown
from perfrun.report.model import (
    FailedWindow,
    GeneratorHealth,
    RunReport,
    ScenarioReport,
    Verdict,
    VerdictStatus,
)
from perfrun.report.text import run_verdict, scenario_verdict, short_threshold, tally_line
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import Severity, Threshold
from tests.support.factories import START, scenario_report

SCHEMAS = Path(__file__).parents[2] / "schemas"

AVG_WARNED = Verdict(
    "max_avg_response_ms", "latency_avg_ms", Bound.MAX, 5000, 1200.0, VerdictStatus.WARN,
    warn=1000,
)  # fmt: skip
P95_PASSED = Verdict("max_p95_response_ms", "latency_p95_ms", Bound.MAX, 500, 12.0,
                     VerdictStatus.PASS)  # fmt: skip


def report(*scenarios: ScenarioReport) -> RunReport:
    return RunReport("0.1.0", START, START + timedelta(seconds=12), {"host": "h"}, False,
                     scenarios, Severity.LOW)  # fmt: skip


def warned(**changes: object) -> ScenarioReport:
    return scenario_report(thresholds=(P95_PASSED, AVG_WARNED), **changes)


def saturated() -> ScenarioReport:
    generator = GeneratorHealth(True, ("event loop lag p99 120 ms",), {}, 98.0, 1, False)
    return scenario_report(
        name="busy", thresholds=(P95_PASSED,), generator=generator, thresholds_reliable=False
    )


def console_text(run: RunReport) -> str:
    out = io.StringIO()
    render_summary(run, Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_a_warned_scenario_passes_labelled_warn() -> None:
    s = warned()
    assert s.passed and s.warned
    assert scenario_verdict(s) == ("WARN", "warn")
    run = report(s, scenario_report(name="clean", thresholds=(P95_PASSED,)))
    assert run.passed
    assert run_verdict(run) == "PASSED WITH WARNINGS"
    assert tally_line(run) == "2 passed (1 with warnings), 0 failed"


def test_saturation_makes_a_pass_unreliable_never_green() -> None:
    s = saturated()
    assert scenario_verdict(s) == ("PASS, unreliable", "warn")
    assert run_verdict(report(s)) == "PASSED WITH WARNINGS"


def test_a_run_with_no_verdicts_reads_no_thresholds() -> None:
    s = scenario_report(thresholds=())
    assert scenario_verdict(s) == ("NO THRESHOLDS", "warn")
    run = report(s)
    assert run_verdict(run) == "NO THRESHOLDS"
    assert tally_line(run) == "1 passed (1 without thresholds), 0 failed"


def test_console_says_warn_and_why() -> None:
    text = console_text(report(warned(), saturated()))
    assert "health (load, high) WARN" in text
    assert "busy (load, high) PASS, unreliable" in text
    assert "≤ 5000 (warn ≤ 1000)" in text
    assert "warning: max_avg_response_ms: limit ≤ 5000 (warn ≤ 1000), actual 1200 (WARN)" in text
    assert "warning: verdicts unreliable, the pass inconclusive" in text
    assert "PASSED WITH WARNINGS: 2 passed (2 with warnings), 0 failed" in text


def test_markdown_marks_warnings_yellow() -> None:
    text = render_markdown(report(warned(), saturated()))
    assert text.startswith("### ⚠️ perfrun: passed with warnings — 2 passed (2 with warnings)")
    assert "| ⚠️ warn |" in text
    assert "| ⚠️ pass, unreliable |" in text
    assert "**health** — warn" in text
    assert "- ⚠️ max_avg_response_ms: limit ≤ 5000 (warn ≤ 1000), actual 1200 (WARN)" in text
    assert "✅" not in text


def test_html_badges_warnings_yellow() -> None:
    html = render_html(report(warned(), saturated()))
    assert '<span class="badge warn">WARN</span>' in html
    assert '<span class="badge warn">PASS, unreliable</span>' in html
    assert 'class="banner warn"' in html
    assert '<span class="badge pass">' in html  # the passed p95 verdict row, not a scenario


def test_junit_warning_is_no_failure_but_is_carried() -> None:
    text = render_junit(report(warned(), saturated()))
    for schema in ("junit-windyroad.xsd", "jenkins-junit-10.xsd"):
        xmlschema.XMLSchema(str(SCHEMAS / schema)).validate(text)
    root = ET.fromstring(text)
    assert [list(case) for case in root.iterfind("testsuite/testcase")] == [[], []]
    props = {p.get("name"): p.get("value") for p in root.iterfind(".//property")}
    assert props["verdict.health"] == "WARN"
    assert props["verdict.busy"] == "PASS, unreliable"
    out = root.findtext("testsuite/system-out") or ""
    assert "perfrun 0.1.0: PASSED WITH WARNINGS" in out
    assert "health (load, severity high): PASSED (WARN)" in out
    assert "warning: max_avg_response_ms: limit ≤ 5000 (warn ≤ 1000), actual 1200 (WARN)" in out


def test_fail_on_warn_fails_with_the_warning_spelled_out() -> None:
    s = warned(passed=False, fail_on_warn=True)
    run = report(s)
    assert not run.passed and run.tally.failed == 1
    root = ET.fromstring(render_junit(run))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert "actual 1200 (WARN) (--fail-on-warn)" in (failure.text or "")


@pytest.mark.parametrize("status", list(VerdictStatus))
def test_every_verdict_status_has_a_label_and_serialises(status: VerdictStatus) -> None:
    v = dataclasses.replace(AVG_WARNED, status=status, over_s=10.0,
                            window=FailedWindow(3, 13, 1200.0))  # fmt: skip
    doc = to_dict(report(scenario_report(thresholds=(v,), passed=v.passed)))
    (verdict,) = doc["scenarios"][0]["thresholds"]
    assert verdict["status"] == status.value
    assert verdict["window"] == {"start_s": 3, "end_s": 13, "value": 1200.0}
    assert render_html(report(scenario_report(thresholds=(v,), passed=v.passed)))


@pytest.mark.parametrize(
    ("threshold", "shown"),
    [
        (Threshold.from_key("max_p95_response_ms", 500), "p95≤500ms"),
        (Threshold.from_key("min_rps", 10, default=True), "rps≥10 (default)"),
        (
            Threshold.from_key("max_p95_response_ms", 500, warn=300, over=10, abort=True),
            "p95≤500ms(warn 300)/10s!abort",
        ),
        (Threshold.from_key("max_error_rate", 1, request="login"), "login:errors≤1%"),
    ],
)
def test_list_shows_each_form_and_marks_defaults(threshold: Threshold, shown: str) -> None:
    assert short_threshold(threshold) == shown
