"""The HTML report's overview of several scenarios, its users/in-flight and transfer charts,
and its note on a partly measured last second: rendered from factory reports, no run."""

from __future__ import annotations

import dataclasses
import re
from html import escape

import pytest

from perfrun.report.html import NO_RATE_NOTE, PARTIAL_NOTE, render_html
from perfrun.report.model import RunReport, ScenarioReport
from perfrun.scenario.model import ScenarioStatus, ScenarioType, Severity
from tests.support.factories import START, counts, latency, scenario_report, timeline

CHART_TAG = re.compile(r"<figure [^>]*data-chart=\"(\w+)\" data-scenario=\"(\d+)\"[^>]*>")


def _run(*scenarios: ScenarioReport) -> RunReport:
    return RunReport("0.1.0", START, START, {}, False, scenarios)


def _gauged(s: ScenarioReport, last_measured: float = 1.0) -> ScenarioReport:
    """`s` with users, in-flight and bytes in every point; the last one measured for
    `last_measured` of its second."""
    points = [
        dataclasses.replace(p, users=10.0, in_flight=3.5, bytes_received=2_000, measured_s=1.0)
        for p in s.timeline
    ]
    points[-1] = dataclasses.replace(points[-1], measured_s=last_measured)
    return dataclasses.replace(s, timeline=tuple(points))


def _empty_charts(page: str, scenario: int) -> set[str]:
    return {
        m.group(1)
        for m in CHART_TAG.finditer(page)
        if m.group(2) == str(scenario) and "data-chart-empty" in m.group(0)
    }


def test_several_scenarios_get_an_overview_linking_to_their_sections() -> None:
    fast = scenario_report(name="fast", latency_ms=latency(p50=1.5, p99=7.25))
    failing = scenario_report(
        name="checkout",
        type=ScenarioType.STRESS,
        severity=Severity.CRITICAL,
        passed=False,
        requests=counts(total=2000, failed=50),
    )
    page = render_html(_run(fast, failing))
    (overview,) = re.findall(r'<section class="run overview" id="overview">.*?</section>', page)
    rows = re.findall(r"<tr>(.*?)</tr>", overview)
    header, first, second = rows
    assert re.findall(r"<th>(.*?)</th>", header) == [
        "scenario", "type", "severity", "verdict", "requests", "req/s", "error %",
        "p50 ms", "p95 ms", "p99 ms",
    ]  # fmt: skip
    cells = re.findall(r"<td>(.*?)</td>", first)
    assert cells[0] == '<a href="#scenario-0">fast</a>'
    assert cells[1:3] == ["load", "high"]
    assert cells[4:] == ["1,000", "100", "0.00", "1.5", "2.2", "7.2"]
    cells = re.findall(r"<td>(.*?)</td>", second)
    assert cells[0] == '<a href="#scenario-1">checkout</a>'
    assert cells[1:3] == ["stress", "critical"]
    assert ">FAIL<" in cells[3]
    assert cells[4:7] == ["2,000", "200", "2.50"]
    assert 'id="scenario-0"' in page and 'id="scenario-1"' in page


def test_one_scenario_needs_no_overview() -> None:
    assert 'id="overview"' not in render_html(_run(scenario_report()))


def test_the_overview_escapes_scenario_names() -> None:
    hostile = '<img src=x onerror="alert(1)">&'
    page = render_html(_run(scenario_report(name=hostile), scenario_report()))
    (overview,) = re.findall(r'<section class="run overview".*?</section>', page)
    assert hostile not in overview
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in overview


def test_a_scenario_that_never_ran_has_a_dash_for_its_error_rate() -> None:
    broken = scenario_report(
        name="broken", status=ScenarioStatus.FAILED, passed=False, requests=counts(total=0)
    )
    page = render_html(_run(scenario_report(), broken))
    (overview,) = re.findall(r'<section class="run overview".*?</section>', page)
    assert "<td>0</td><td>0.0</td><td>-</td>" in overview


def test_users_in_flight_and_transfer_are_charted_when_the_timeline_has_them() -> None:
    page = render_html(_run(scenario_report(), _gauged(scenario_report())))
    assert {"concurrency", "transfer"} <= _empty_charts(page, 0)
    assert "No data: no users scheduled and no requests in flight sampled." in page
    assert "No data: no transfer was sampled." in page
    assert not {"concurrency", "transfer"} & _empty_charts(page, 1)


def test_charts_of_a_scenario_with_no_completion_say_so() -> None:
    page = render_html(_run(scenario_report(timeline=())))
    assert {"throughput", "latency", "concurrency", "transfer"} <= _empty_charts(page, 0)


@pytest.mark.parametrize(
    ("last_measured", "notes"),
    [
        (1.0, ()),
        (0.7, (PARTIAL_NOTE,)),
        (0.5, (PARTIAL_NOTE,)),
        (0.3, (PARTIAL_NOTE, NO_RATE_NOTE)),
    ],
)
def test_a_partly_measured_last_second_is_explained_under_the_charts(
    last_measured: float, notes: tuple[str, ...]
) -> None:
    page = render_html(_run(_gauged(scenario_report(), last_measured)))
    shown = tuple(note for note in (PARTIAL_NOTE, NO_RATE_NOTE) if escape(note) in page)
    assert shown == notes


def test_coarse_points_say_what_they_average_over() -> None:
    coarse = scenario_report(timeline=timeline([400] * 4, span_s=4))
    page = render_html(_run(_gauged(coarse)))
    assert "Active users and requests in flight, averaged over 4 s per point" in page
    assert "Transfer rate (bytes received/s), averaged over 4 s per point" in page
