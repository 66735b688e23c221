"""Response checks end to end: declared in YAML, judged on real responses from the demo
target and tests/servers/target.py, counted per check in the JSON report, and failing
requests (and so thresholds) when they fail.

target.py answers every path with 200, `content-type: application/json` and the body
`{"ok":true}`; the demo's /health answers `{"status":"ok"}`.
"""

from __future__ import annotations

from typing import Any

from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import RunPerfrun, StartTarget, only_scenario, scenario


def test_json_and_header_checks_pass_on_the_demo_health_endpoint(run_perfrun: RunPerfrun) -> None:
    health = {
        "name": "health",
        "path": "/health",
        "expect_json": {"status": "ok"},
        "expect_header": {"Content-Type": "application/json"},
    }
    run = run_perfrun(
        {
            "checked": scenario(
                "demo",
                users=2,
                requests_per_user=10,
                requests=[health],
                thresholds={"min_success_rate": 100},
            )
        }
    )

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["requests"]["succeeded"] == 20
    assert s["errors"] == {}
    assert s["checks"] == {
        "health: json status == 'ok'": {"endpoint": "health", "evaluated": 20, "failed": 0},
        "health: header content-type == 'application/json'": {
            "endpoint": "health",
            "evaluated": 20,
            "failed": 0,
        },
    }


def test_a_missing_body_text_fails_every_response_and_min_success_rate(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    get = {"name": "get", "path": "/", "expect_body_contains": "no such text"}
    run = run_perfrun(
        {
            "missing": scenario(
                plain_target.url,
                users=2,
                requests_per_user=10,
                requests=[get],
                thresholds={"min_success_rate": 95},
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["requests"]["total"] == 20
    assert s["requests"]["failed"] == 20
    assert s["errors"] == {"check_failed": 20}
    assert s["error_samples"]["check_failed"] == "get: body contains 'no such text'"
    assert s["checks"]["get: body contains 'no such text'"] == {
        "endpoint": "get",
        "evaluated": 20,
        "failed": 20,
    }
    assert s["endpoints"]["get"]["errors"] == {"check_failed": 20}
    (verdict,) = s["thresholds"]
    assert verdict["key"] == "min_success_rate"
    assert verdict["actual"] == 0.0
    assert verdict["status"] == "fail"
    assert s["passed"] is False


def test_each_check_is_counted_on_its_own_when_only_some_fail(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    get = {
        "name": "get",
        "path": "/",
        "expect_body_contains": ['"ok":true', "absent"],
        "expect_json": {"ok": True, "missing.path": 1},
        "expect_header": {"content-type": None, "x-absent": None},
    }
    run = run_perfrun(
        {"mixed": scenario(plain_target.url, users=1, requests_per_user=12, requests=[get])}
    )

    assert run.exit_code == 0, run.output  # no thresholds: failed requests alone do not fail
    s = only_scenario(run.report)
    failed = {name: count["failed"] for name, count in s["checks"].items()}
    assert failed == {
        "get: body contains '\"ok\":true'": 0,
        "get: body contains 'absent'": 12,
        "get: json ok == True": 0,
        "get: json missing.path == 1": 12,
        "get: header content-type present": 0,
        "get: header x-absent present": 12,
    }
    assert {count["evaluated"] for count in s["checks"].values()} == {12}
    # One failed request per response, however many of its checks failed.
    assert s["errors"] == {"check_failed": 12}
    assert s["requests"]["failed"] == 12


def test_checks_are_evaluated_only_on_responses_with_an_expected_status(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    failing = target("--fail-every", "4")  # requests 4, 8, 12, ... are 500s
    get: dict[str, Any] = {"name": "get", "path": "/", "expect_json": {"ok": True}}
    run = run_perfrun(
        {"some_500": scenario(failing.url, users=2, requests_per_user=10, requests=[get])}
    )

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["errors"] == {"http_5xx": 5}
    assert s["checks"]["get: json ok == True"] == {"endpoint": "get", "evaluated": 15, "failed": 0}
