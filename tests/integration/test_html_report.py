"""The HTML report: self-contained, carries the JSON report's data, and renders in Chromium.

The report comes from a real run: one closed-model scenario against a loopback target (with
one threshold set to fail) and one against a port nothing listens on (no data to chart).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from perfrun.execution.outcome import RunOptions
from perfrun.execution.runner import run_scenarios
from perfrun.judge.build import build_run_report
from perfrun.report.codec import to_dict
from perfrun.report.html import render_html, write_html
from perfrun.report.model import RunReport
from perfrun.report.progress import QuietProgress
from perfrun.scenario.loader import load_file
from tests.servers.launch import TargetProcess
from tests.support.factories import START, scenario_report, timeline
from tests.support.perfrun_cli import scenario, write_scenarios

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_TIMEOUT = 60.0
DATA_SCRIPT = re.compile(
    r'<script type="application/json" id="perfrun-data">(.*?)</script>', re.DOTALL
)
CHART_TAG = re.compile(r"<figure [^>]*data-chart=[^>]*>")
# Chromium 156 logs every console message (console.log and console.error alike, uncaught
# exceptions as "Uncaught ...") as `[...:INFO:CONSOLE:1] "message", source: ...`; older
# versions wrote `CONSOLE(1)`. The level is not in the line, so any console output counts:
# the report's script writes to the console only when something went wrong.
CONSOLE_LINE = re.compile(r":CONSOLE[:(]|Uncaught")


@pytest.fixture(scope="module")
def report(
    plain_target: TargetProcess, refused_url: str, tmp_path_factory: pytest.TempPathFactory
) -> RunReport:
    scenarios = {
        "steady": scenario(
            plain_target.url,
            users=2,
            duration="2s",
            thresholds={"max_p95_response_ms": 1000, "min_rps": 1e9},
            monitor={"pid": plain_target.pid},
        ),
        "nobody_home": scenario(refused_url, severity="high"),
    }
    path = write_scenarios(tmp_path_factory.mktemp("scenarios"), scenarios)
    started = datetime.now(UTC)
    outcomes = list(run_scenarios(load_file(path), RunOptions(), QuietProgress()))
    return build_run_report(outcomes, started, datetime.now(UTC), interrupted=False)


@pytest.fixture(scope="module")
def page(report: RunReport) -> str:
    return render_html(report)


def test_html_report_needs_no_network(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page
    assert "fetch(" not in page
    assert "<canvas" not in page  # drawn by the inline script, not shipped as markup


def test_html_report_shows_verdict_scenarios_and_every_threshold(
    page: str, report: RunReport
) -> None:
    assert 'class="banner failed"' in page
    assert ">FAILED<" in page
    for s in report.scenarios:
        assert f"{s.name} <span" in page
        for verdict in s.thresholds:
            op = "≤" if verdict.bound == "max" else "≥"
            assert f"<code>{verdict.key}</code></td><td>{op} " in page
    assert "PASS</span>" in page and "FAIL</span>" in page
    assert "unreachable" in page  # the second scenario's status


def test_html_report_embeds_the_json_report(page: str, report: RunReport) -> None:
    (data,) = DATA_SCRIPT.findall(page)
    assert json.loads(data) == to_dict(report)


def test_write_html_writes_the_rendered_page(report: RunReport, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(report, path)
    assert path.read_text(encoding="utf-8") == render_html(report)


def test_html_report_data_cannot_close_its_script(report: RunReport) -> None:
    first = report.scenarios[0]
    hostile = "</script><script>alert(1)</script>"
    page = render_html(
        RunReport(
            perfrun_version=report.perfrun_version,
            started_at=report.started_at,
            finished_at=report.finished_at,
            environment={**report.environment, "argv": hostile},
            interrupted=False,
            scenarios=(first,),
        )
    )
    assert hostile not in page
    (data,) = DATA_SCRIPT.findall(page)
    assert json.loads(data)["environment"]["argv"] == hostile


def test_html_report_marks_charts_without_data(page: str) -> None:
    charts = CHART_TAG.findall(page)
    assert len(charts) == 14  # seven per scenario
    steady = [c for c in charts if 'data-scenario="0"' in c]
    assert not any("data-chart-empty" in c for c in steady)
    unreachable = [c for c in charts if 'data-scenario="1"' in c]
    assert any('data-chart="spectrum"' in c and "data-chart-empty" in c for c in unreachable)
    assert "No data: no request succeeded." in page


def test_html_report_opens_with_an_overview_of_its_scenarios(page: str) -> None:
    (overview,) = re.findall(r'<section class="run overview" id="overview">.*?</section>', page)
    assert '<a href="#scenario-0">steady</a>' in overview
    assert '<a href="#scenario-1">nobody_home</a>' in overview
    assert page.index('id="overview"') < page.index('id="scenario-0"')


def test_html_report_charts_users_and_transfer_of_the_closed_model(
    page: str, report: RunReport
) -> None:
    steady = report.scenarios[0]
    assert all(p.users == 2 for p in steady.timeline)
    assert sum(p.bytes_received or 0 for p in steady.timeline) == steady.requests.bytes_received
    charts = [c for c in CHART_TAG.findall(page) if 'data-scenario="0"' in c]
    for name in ("concurrency", "transfer"):
        (chart,) = [c for c in charts if f'data-chart="{name}"' in c]
        assert "data-chart-empty" not in chart


# --- headless Chromium --------------------------------------------------------------------


class BrowserRun(NamedTuple):
    dom: str
    console: list[str]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium's path; installed with apt-get only in CI or when asked to."""
    found = _find_chromium()
    if found is None and _may_install():
        for command in (
            ["apt-get", "update"],  # fresh CI images ship without package lists
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        ):
            subprocess.run(command, capture_output=True, timeout=600, check=False)
        found = _find_chromium()
    if found is None:
        pytest.skip(
            "chromium not installed: apt-get install chromium (set CI or "
            "PERFRUN_INSTALL_CHROMIUM=1 to let the tests install it as root)"
        )
    return found


def _find_chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _may_install() -> bool:
    asked = bool(os.environ.get("CI")) or os.environ.get("PERFRUN_INSTALL_CHROMIUM") == "1"
    return asked and os.geteuid() == 0 and shutil.which("apt-get") is not None


def open_in_chromium(chromium: str, page: Path, profile: Path) -> BrowserRun:
    """Load `page` headless; the DOM after its scripts ran, and its console lines."""
    result = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if CONSOLE_LINE.search(line)]
    return BrowserRun(result.stdout, console)


def test_console_detector_catches_errors_and_exceptions(chromium: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>broken</p>"
        '<script>console.error("deliberate error");</script>'
        "<script>notDefinedAnywhere();</script></body></html>"
    )
    run = open_in_chromium(chromium, broken, tmp_path / "profile")
    assert "<p>broken</p>" in run.dom
    assert any("deliberate error" in line for line in run.console), run.console
    assert any("notDefinedAnywhere" in line for line in run.console), run.console


def test_every_chart_with_data_renders_in_chromium(
    chromium: str, page: str, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    run = open_in_chromium(chromium, path, tmp_path / "profile")
    assert run.console == []
    charts = CHART_TAG.findall(run.dom)
    expected = [c for c in charts if "data-chart-empty" not in c]
    assert len(expected) >= 5  # the steady scenario has data for every chart
    rendered = [c for c in charts if 'data-rendered="true"' in c]
    assert rendered == expected
    assert run.dom.count("<canvas") >= len(expected)
    assert f'data-charts-rendered="{len(expected)}"' in run.dom


def test_charts_of_sampled_coarse_and_partly_measured_timelines_render_in_chromium(
    chromium: str, tmp_path: Path
) -> None:
    """The open model's in-flight series, coarse points, a last second too short to be a
    rate (its rates left out: nulls) and one long enough: every chart still draws."""
    points = timeline([200, 180, 190, 3], span_s=1)
    gauged = tuple(
        replace(p, in_flight=float(i), bytes_received=5_000_000 * p.requests, measured_s=1.0)
        for i, p in enumerate(points)
    )
    short_end = (*gauged[:-1], replace(gauged[-1], measured_s=0.01, in_flight=None))
    open_model = scenario_report(
        name="open",
        load={"model": "open", "rate": 200, "duration_s": 4.0},
        timeline=short_end,
        latency_spectrum=((50.0, 2.0), (99.0, 9.0), (100.0, 12.0)),
    )
    coarse = timeline([800, 790], span_s=4)
    closed = scenario_report(
        name="closed",
        timeline=(
            replace(coarse[0], users=10.0, bytes_received=900, measured_s=4.0),
            replace(coarse[1], users=10.0, bytes_received=800, measured_s=2.5),
        ),
        latency_spectrum=((50.0, 2.0), (100.0, 12.0)),
    )
    page = render_html(RunReport("0.1.0", START, START, {}, False, (open_model, closed)))
    path = tmp_path / "synthetic.html"
    path.write_text(page, encoding="utf-8")
    run = open_in_chromium(chromium, path, tmp_path / "profile")
    assert run.console == []
    charts = CHART_TAG.findall(run.dom)
    expected = [c for c in charts if "data-chart-empty" not in c]
    drawn = [c for c in charts if 'data-rendered="true"' in c]
    assert drawn == expected
    names = set(re.findall(r'data-chart="(\w+)"', " ".join(drawn)))
    assert {"throughput", "latency", "concurrency", "transfer", "spectrum"} <= names
