"""The leak cycles' line every renderer shows (perfrun.report.text.cycles_line)."""

from __future__ import annotations

import dataclasses

import pytest

from perfrun.report.markdown import render_markdown
from perfrun.report.model import RunReport, ScenarioReport, Trend
from perfrun.report.text import cycles_line, details, short_threshold
from perfrun.scenario.model import Threshold
from tests.support.factories import START, resources, scenario_report


def run_report(s: ScenarioReport) -> RunReport:
    return RunReport("0.1.0", START, START, {}, False, (s,))


def cycled(readings: tuple[float, ...], trend: Trend | None) -> ScenarioReport:
    r = resources()
    assert r.target is not None
    target = dataclasses.replace(
        r.target, memory_mb_per_cycle=readings, memory_growth_mb_per_cycle=trend
    )
    return scenario_report(resources=dataclasses.replace(r, target=target))


@pytest.mark.parametrize(
    ("readings", "trend", "line"),
    [
        pytest.param((), None, "", id="no cycles"),
        pytest.param(
            (100.0, 102.0, 104.0, 106.0, 108.0, 110.0, 112.0),
            Trend(2.0, 2.0, 2.0, 7),
            "leak cycles: target RSS after each rest 100 → 102 → 104 → 106 → 108 → 110 → 112 "
            "MB (+2.00 MB/cycle, 95 % CI 2.00 to 2.00)",
            id="with its interval",
        ),
        pytest.param(
            (50.0, 50.5, 51.0),
            Trend(0.5, None, None, 3),
            "leak cycles: target RSS after each rest 50.0 → 50.5 → 51.0 MB (+0.50 MB/cycle)",
            id="too few for an interval",
        ),
        pytest.param(
            (50.0,),
            Trend(None, None, None, 1, "1 RSS readings after leak cycles, 3 needed"),
            "leak cycles: target RSS after each rest 50.0 MB "
            "(1 RSS readings after leak cycles, 3 needed)",
            id="too few cycles",
        ),
    ],
)
def test_cycles_line_lists_each_reading_and_the_trend(
    readings: tuple[float, ...], trend: Trend | None, line: str
) -> None:
    s = cycled(readings, trend)
    assert cycles_line(s) == line
    if line:
        assert line in details(s)  # console and HTML
        assert line in render_markdown(run_report(s))


@pytest.mark.parametrize(
    ("key", "limit", "short"),
    [
        ("max_memory_growth_mb_per_hour", 60, "memory_growth≤60MB/h"),
        ("max_memory_growth_mb_per_cycle", 2, "memory_growth≤2MB/cycle"),
        ("max_open_files_growth", 5, "open_files_growth≤5"),
        ("max_memory_mb", 200, "mem≤200MB"),
    ],
)
def test_leak_thresholds_read_short_in_listings(key: str, limit: float, short: str) -> None:
    assert short_threshold(Threshold.from_key(key, limit)) == short
