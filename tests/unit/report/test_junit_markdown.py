"""JUnit XML and Markdown reports, rendered from hand-built report models.

Every JUnit document is validated against both common schemas in tests/schemas/: the strict
Apache Ant one (windyroad) and the one Jenkins' xUnit plugin ships.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema

from perfrun.report.junit import render_junit, write_junit
from perfrun.report.markdown import HEADER, append_step_summary, render_markdown, write_markdown
from perfrun.report.model import (
    BaselineSummary,
    ChangeStatus,
    Comparison,
    GeneratorHealth,
    Insight,
    MetricChange,
    RequestCounts,
    RunReport,
    ScenarioReport,
    Verdict,
    VerdictStatus,
    Window,
)
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import ScenarioStatus, ScenarioType, Severity

SCHEMAS = Path(__file__).parents[2] / "schemas"
STARTED = datetime(2026, 11, 21, 10, 44, 37, 465000, tzinfo=UTC)
LATENCY = {
    "min": 0.6, "avg": 2.6, "p50": 1.87, "p75": 2.6, "p90": 3.8, "p95": 5.32, "p99": 18.05,
    "p999": 43.2, "max": 167.7,
}  # fmt: skip
NO_LATENCY = dict.fromkeys(LATENCY)


@pytest.fixture(scope="module")
def schemas() -> list[xmlschema.XMLSchema]:
    return [
        xmlschema.XMLSchema(str(SCHEMAS / "junit-windyroad.xsd")),
        xmlschema.XMLSchema(str(SCHEMAS / "jenkins-junit-10.xsd")),
    ]


PASS, FAIL, NOT_MEASURED = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_MEASURED


def verdict(
    key: str, limit: float, actual: float | None, status: VerdictStatus, note: str = ""
) -> Verdict:
    bound = Bound.MIN if key.startswith("min_") else Bound.MAX
    return Verdict(key, key, bound, limit, actual, status, note)


def scenario(name: str = "health_load", **changes: object) -> ScenarioReport:
    """A completed, passing scenario like a real run's, with `changes` applied."""
    base = ScenarioReport(
        name=name,
        description="Health endpoint under normal load",
        type=ScenarioType.LOAD,
        severity=Severity.MEDIUM,
        source="scenarios/health.yaml:3",
        base_url="http://127.0.0.1:40125",
        engine="httpx",
        load={"model": "closed", "users": 20, "requests_per_user": 50},
        status=ScenarioStatus.COMPLETED,
        message="",
        passed=True,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=15),
        duration_s=14.953,
        requests=RequestCounts(
            total=2700,
            succeeded=2697,
            failed=3,
            success_rate=99.889,
            error_rate=0.111,
            rps=180.57,
            bytes_received=40500,
        ),
        latency_basis="send_time",
        latency_ms=LATENCY,
        service_time_ms=LATENCY,
        failed_latency_ms=NO_LATENCY,
        errors={"timeout": 3},
        error_samples={"timeout": "ReadTimeout after 10s"},
        endpoints=(),
        checks=(),
        window=Window(0.0, 14.953, 14.953),
        warmup=None,
        schedule=None,
        generator=GeneratorHealth(
            saturated=False,
            reasons=(),
            loop_lag_ms=NO_LATENCY,
            cpu_percent=12.0,
            workers=1,
            fails_run=False,
        ),
        resources=None,
        thresholds=(
            verdict("max_p95_response_ms", 500, 5.32, PASS),
            verdict("min_rps", 10, 180.57, PASS),
        ),
        thresholds_reliable=True,
        timeline=(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(*scenarios: ScenarioReport, **changes: object) -> RunReport:
    base = RunReport(
        perfrun_version="0.1.0",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=16.2),
        environment={"host": "ci-runner-7", "os": "Linux 6.18"},
        interrupted=False,
        scenarios=scenarios,
        fail_on=Severity.LOW,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def failed_p95(name: str = "slow_load", **changes: object) -> ScenarioReport:
    return scenario(
        name,
        passed=False,
        thresholds=(
            verdict("max_p95_response_ms", 500, 812.4, FAIL),
            verdict("min_rps", 10, 180.57, PASS),
        ),
        **changes,
    )


def junit(report: RunReport, schemas: list[xmlschema.XMLSchema]) -> ET.Element:
    """Render, validate against every schema, and parse."""
    text = render_junit(report)
    for schema in schemas:
        schema.validate(text)
    return ET.fromstring(text)


def case(root: ET.Element, name: str) -> ET.Element:
    (found,) = (c for c in root.iterfind("testsuite/testcase") if c.get("name") == name)
    return found


def properties(root: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in root.iterfind(".//property")}


def test_all_pass_gives_one_suite_with_a_bare_testcase_per_scenario(
    schemas: list[xmlschema.XMLSchema],
) -> None:
    report = run(
        scenario("health_load"), scenario("projects_load", type=ScenarioType.STRESS, duration_s=2)
    )
    root = junit(report, schemas)
    (suite,) = root.findall("testsuite")
    assert suite.attrib | {"timestamp": ""} == {
        "name": "perfrun",
        "package": "perfrun",
        "id": "0",
        "tests": "2",
        "failures": "0",
        "errors": "0",
        "skipped": "0",
        "time": "16.200",
        "timestamp": "",
        "hostname": "ci-runner-7",
    }
    assert suite.get("timestamp") == "2026-11-21T10:44:37"
    assert case(root, "health_load").attrib == {
        "name": "health_load",
        "classname": "load",
        "time": "14.953",
    }
    assert case(root, "projects_load").get("classname") == "stress"
    assert case(root, "projects_load").get("time") == "2.000"
    assert list(case(root, "health_load")) == []
    assert properties(root) == {
        "perfrun_version": "0.1.0",
        "fail_on": "low",
        "passed": "true",
        "interrupted": "false",
        "severity.health_load": "medium",
        "severity.projects_load": "medium",
    }
    out = suite.findtext("system-out") or ""
    assert "perfrun 0.1.0: PASSED" in out
    assert "health_load (load, severity medium): PASSED" in out
    assert "2700 requests in 14.95s · 181 req/s" in out
    assert "p50 1.9 p95 5.3 p99 18.1" in out
    assert "errors timeout=3" in out


def test_failed_threshold_is_a_failure_naming_limit_and_actual(
    schemas: list[xmlschema.XMLSchema],
) -> None:
    root = junit(run(scenario(), failed_p95()), schemas)
    assert root.find("testsuite").attrib["failures"] == "1"  # type: ignore[union-attr]
    failure = case(root, "slow_load").find("failure")
    assert failure is not None
    assert failure.attrib == {"message": "1 threshold failed", "type": "thresholds"}
    text = failure.text or ""
    assert "slow_load (load, severity medium)" in text
    assert "max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)" in text
    assert "min_rps" not in text  # passed thresholds are not listed
    assert "2700 requests" in text
    assert list(case(root, "health_load")) == []


def test_not_measured_threshold_fails_with_its_note(schemas: list[xmlschema.XMLSchema]) -> None:
    s = scenario(
        passed=False,
        thresholds=(
            verdict("max_memory_mb", 200, None, NOT_MEASURED, note="no target process known"),
            verdict("min_rps", 500, 180.57, FAIL),
        ),
    )
    failure = case(junit(run(s), schemas), "health_load").find("failure")
    assert failure is not None
    assert failure.get("message") == "2 thresholds failed"
    assert "max_memory_mb: limit ≤ 200, not measured (NOT MEASURED): no target process known" in (
        failure.text or ""
    )
    assert "min_rps: limit ≥ 500, actual 180.57 (FAIL)" in (failure.text or "")


def test_regression_verdict_is_listed_in_the_failure(schemas: list[xmlschema.XMLSchema]) -> None:
    s = scenario(
        passed=False,
        thresholds=(
            verdict("max_p95_response_ms", 500, 5.32, PASS),
            verdict("regression.p95", 10, 23.456, FAIL),
        ),
    )
    report = run(s, baseline=BaselineSummary("baseline.json", (), ()))
    root = junit(report, schemas)
    failure = case(root, "health_load").find("failure")
    assert failure is not None
    assert "regression.p95: limit ≤ 10, actual 23.46 (FAIL)" in (failure.text or "")
    assert properties(root)["baseline"] == "baseline.json"


def test_saturated_generator_failing_the_run_is_a_failure(
    schemas: list[xmlschema.XMLSchema],
) -> None:
    generator = GeneratorHealth(True, ("event loop lag p99 120 ms",), NO_LATENCY, 98.0, 1, True)
    s = scenario(passed=False, generator=generator, thresholds_reliable=False)
    failure = case(junit(run(s), schemas), "health_load").find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "generator saturated (--on-saturation fail): event loop lag p99 120 ms"
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("unreachable", "target unreachable: every request failed (connect)"),
        ("failed", "demo target failed to start"),
    ],
)
def test_scenario_that_did_not_complete_is_an_error(
    schemas: list[xmlschema.XMLSchema], status: str, message: str
) -> None:
    s = scenario(status=status, message=message, passed=False, latency_ms=NO_LATENCY)
    root = junit(run(s), schemas)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("failures")) == ("1", "0")
    error = case(root, "health_load").find("error")
    assert error is not None
    assert error.attrib == {"message": message, "type": status}
    assert case(root, "health_load").find("failure") is None


def test_tolerated_failure_is_skipped_with_the_reason(schemas: list[xmlschema.XMLSchema]) -> None:
    s = failed_p95(severity=Severity.LOW, tolerated=True)
    report = run(s, fail_on=Severity.MEDIUM)
    assert report.passed
    root = junit(report, schemas)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "1")
    skipped = case(root, "slow_load").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "failure tolerated: severity low is below --fail-on medium"
    assert "max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)" in (skipped.text or "")
    assert properties(root)["severity.slow_load"] == "low"


def test_interrupted_run(schemas: list[xmlschema.XMLSchema]) -> None:
    cut = scenario(
        "cut_short",
        status=ScenarioStatus.INTERRUPTED,
        message="interrupted: the figures cover the run until then",
        passed=False,
    )
    report = run(scenario(), cut, interrupted=True)
    root = junit(report, schemas)
    assert properties(root)["interrupted"] == "true"
    assert properties(root)["passed"] == "false"
    error = case(root, "cut_short").find("error")
    assert error is not None
    assert error.get("type") == "interrupted"
    out = root.findtext("testsuite/system-out") or ""
    assert "INTERRUPTED" in out
    markdown = render_markdown(report)
    assert markdown.startswith("### ❌ perfrun: interrupted — 1 passed, 1 failed\n")
    assert "| ❌ interrupted |" in markdown


def test_xml_special_characters_are_escaped(schemas: list[xmlschema.XMLSchema]) -> None:
    name = "a<b>&\"c'd"
    s = scenario(
        name,
        type=ScenarioType.LOAD,
        status=ScenarioStatus.FAILED,
        passed=False,
        message='server said <html>&amp; "no"\x00\x1b]',
        insights=(Insight("long_tail", "p99 > 10× p50 & <growing>", {}),),
    )
    text = render_junit(run(s))
    assert "<html>" not in text
    root = junit(run(s), schemas)
    error = case(root, name).find("error")
    assert error is not None
    assert error.get("message") == 'server said <html>&amp; "no"\ufffd\ufffd]'
    assert properties(root)[f"severity.{name}"] == "medium"
    assert "insight: p99 > 10× p50 & <growing>" in (root.findtext("testsuite/system-out") or "")


def test_write_junit_writes_the_rendered_document(tmp_path: Path) -> None:
    report = run(scenario())
    path = tmp_path / "junit.xml"
    write_junit(report, path)
    assert path.read_text(encoding="utf-8") == render_junit(report)


def test_markdown_all_pass_is_a_title_and_a_table() -> None:
    report = run(
        scenario(), scenario("projects_load", type=ScenarioType.STRESS, severity=Severity.HIGH)
    )
    assert render_markdown(report) == (
        "### ✅ perfrun: passed — 2 passed, 0 failed\n"
        "\n"
        f"{HEADER}\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|\n"
        "| health_load | load | medium | 2700 | 181 | 1.9 | 5.3 | 18.1 | 0.11 | ✅ pass |\n"
        "| projects_load | stress | high | 2700 | 181 | 1.9 | 5.3 | 18.1 | 0.11 | ✅ pass |\n"
    )


def test_markdown_spells_out_failed_thresholds_and_tolerated_failures() -> None:
    report = run(
        scenario(),
        failed_p95(),
        failed_p95("batch_load", severity=Severity.LOW, tolerated=True),
        scenario(
            "down", status=ScenarioStatus.UNREACHABLE, message="target unreachable", passed=False
        ),
        fail_on=Severity.MEDIUM,
    )
    markdown = render_markdown(report)
    assert markdown.startswith(
        "### ❌ perfrun: failed — 1 passed, 2 failed, "
        "1 tolerated (severity below --fail-on medium)\n"
    )
    assert HEADER in markdown
    assert "| slow_load | load | medium | 2700 |" in markdown
    assert "| ❌ fail |" in markdown
    assert "| batch_load | load | low | 2700 |" in markdown
    assert "| ⚠️ fail (tolerated) |" in markdown
    assert "| down | load | medium | 2700 |" in markdown
    assert "| ❌ unreachable |" in markdown
    assert (
        "**slow_load** — failed\n- max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)\n"
        in markdown
    )
    assert (
        "**batch_load** — failed, tolerated (severity low below --fail-on medium)\n"
        "- max_p95_response_ms: limit ≤ 500, actual 812.4 (FAIL)\n" in markdown
    )
    assert "**down** — unreachable\n- target unreachable\n" in markdown
    assert "**health_load**" not in markdown  # nothing to say about a clean pass


def test_markdown_lists_insights_and_the_baseline_comparison() -> None:
    comparison = Comparison(
        "baseline.json",
        (
            MetricChange("p95", 4.0, 5.32, 33.0, 10.0, ChangeStatus.REGRESSION),
            MetricChange("rps", 200.0, 180.57, -9.715, 10.0, ChangeStatus.UNCHANGED),
            MetricChange("p50", 2.5, 1.87, -25.2, 10.0, ChangeStatus.IMPROVEMENT),
            MetricChange(
                "p99", 9.0, 30.0, None, 10.0, ChangeStatus.NOT_COMPARABLE, "too few requests"
            ),
        ),
    )
    s = scenario(
        insights=(Insight("long_tail", "p99 is 10× the median", {"ratio": 10.0}),),
        comparison=comparison,
    )
    markdown = render_markdown(run(s))
    assert "**health_load**\n- 💡 p99 is 10× the median\n" in markdown
    assert (
        "- vs baseline baseline.json: p95 +33.0% (regression), p50 -25.2% (improvement);"
        " p99 not compared (too few requests)\n" in markdown
    )


def test_markdown_escapes_table_and_html() -> None:
    markdown = render_markdown(run(failed_p95("a|b<script>")))
    assert "| a\\|b&lt;script&gt; | load |" in markdown
    assert "<script>" not in markdown


def test_write_markdown_writes_the_rendered_document(tmp_path: Path) -> None:
    report = run(scenario())
    path = tmp_path / "summary.md"
    write_markdown(report, path)
    assert path.read_text(encoding="utf-8") == render_markdown(report)


def test_step_summary_is_appended_when_the_variable_is_set(tmp_path: Path) -> None:
    path = tmp_path / "step_summary.md"
    path.write_text("# earlier step\n", encoding="utf-8")
    first, second = run(scenario()), run(failed_p95())
    assert append_step_summary(first, {"GITHUB_STEP_SUMMARY": str(path)}) == path
    assert append_step_summary(second, {"GITHUB_STEP_SUMMARY": str(path)}) == path
    assert path.read_text(encoding="utf-8") == (
        "# earlier step\n" + render_markdown(first) + "\n" + render_markdown(second) + "\n"
    )


def test_step_summary_file_is_created_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "new.md"
    assert append_step_summary(run(scenario()), {"GITHUB_STEP_SUMMARY": str(path)}) == path
    assert "| health_load |" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("environ", [{}, {"GITHUB_STEP_SUMMARY": ""}])
def test_no_step_summary_without_the_variable(environ: dict[str, str]) -> None:
    assert append_step_summary(run(scenario()), environ) is None
