"""Reports written by real runs validate against docs/report.schema.json.

One run per shape the report can take: a closed model with thresholds and a monitored
target, an open model with stages and a warm-up, an unreachable target, a scenario that could
not run, and runs compared with a baseline (the history's median, and a saved report).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import RunPerfrun, only_scenario, scenario, scenario_with_load

SCHEMA_PATH = Path(__file__).parents[2] / "docs" / "report.schema.json"
NO_SUCH_PID = 2**31 - 1
"""Above any Linux pid_max (at most 2^22)."""


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_valid(validator: Draft202012Validator, report: dict[str, Any] | None) -> None:
    assert report is not None, "no report was written"
    problems = [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(report), key=lambda e: e.json_path)
    ]
    assert problems == []


def test_closed_model_with_thresholds_and_a_monitored_target(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, validator: Draft202012Validator
) -> None:
    requests: list[dict[str, Any]] = [
        {"name": "root", "path": "/", "weight": 2, "expect_body_contains": "ok"},
        {"name": "health", "path": "/health", "expect_json": {"ok": True}},
    ]
    scenarios = {
        "monitored": scenario(
            plain_target.url,
            users=2,
            requests_per_user=20,
            requests=requests,
            thresholds={
                "max_p95_response_ms": 1000,
                "max_p50_response_ms": 0.001,  # fails: a verdict of each kind
                "min_rps": 1,
                "max_error_rate": 5,
                "max_cpu_percent": 400,
                "max_memory_mb": 4096,
            },
            monitor={"pid": plain_target.pid, "interval": "200ms"},
        ),
        # No monitor and not the demo target: no target process, memory not measured.
        "unmonitored": scenario(
            plain_target.url, users=1, requests_per_user=5, thresholds={"max_memory_mb": 4096}
        ),
    }

    run = run_perfrun(scenarios)

    assert run.exit_code == 1, run.output
    assert_valid(validator, run.report)
    assert run.report is not None
    monitored, unmonitored = run.report["scenarios"]
    assert monitored["resources"]["target"]["pid"] == plain_target.pid
    assert set(monitored["endpoints"]) == {"root", "health"}
    assert len(monitored["checks"]) == 2
    assert {v["status"] for v in monitored["thresholds"]} == {"pass", "fail"}
    assert unmonitored["resources"]["target"] is None
    assert [v["status"] for v in unmonitored["thresholds"]] == ["not_measured"]


def test_open_model_with_stages_and_a_warmup(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, validator: Draft202012Validator
) -> None:
    load = {
        "stages": [{"duration": "1s", "rate": 60}, {"duration": "1s", "rate": 60}],
        "warmup": "500ms",
        "arrival": "poisson",
        "max_in_flight": 20,
    }
    scenarios = {
        "open": scenario_with_load(plain_target.url, load, thresholds={"min_success_rate": 90})
    }

    run = run_perfrun(scenarios)

    assert run.exit_code == 0, run.output
    assert_valid(validator, run.report)
    open_run = only_scenario(run.report)
    assert open_run["latency_basis"] == "intended_send_time"
    assert open_run["schedule"]["due"] > 0
    assert open_run["warmup"]["requests"]["total"] > 0
    assert len(open_run["load"]["stages"]) == 2


def test_unreachable_target(
    run_perfrun: RunPerfrun, refused_url: str, validator: Draft202012Validator
) -> None:
    run = run_perfrun({"down": scenario(refused_url, users=1, duration="10s")})

    assert run.exit_code == 3, run.output
    assert_valid(validator, run.report)
    down = only_scenario(run.report)
    assert down["status"] == "unreachable"
    assert set(down["errors"]) == {"connect_refused"}


def test_scenario_that_could_not_run(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, validator: Draft202012Validator
) -> None:
    lost = scenario(plain_target.url, monitor={"pid": NO_SUCH_PID})

    run = run_perfrun({"lost": lost})

    assert run.exit_code == 3, run.output
    assert_valid(validator, run.report)
    assert only_scenario(run.report)["status"] == "failed"


def test_runs_compared_with_the_history_and_with_a_saved_report(
    run_perfrun: RunPerfrun,
    delay_target: TargetProcess,
    validator: Draft202012Validator,
    tmp_path: Path,
) -> None:
    # 30 requests: enough to compare p50 (20), too few for p95 (not_comparable, with a
    # note). A tolerance of 1000 % keeps a busy machine from failing the run.
    scenarios = {"api": scenario(delay_target.url, users=2, requests_per_user=15)}
    history = str(tmp_path / "history")
    first = run_perfrun(scenarios, "--history", history)
    assert first.exit_code == 0, first.output
    assert_valid(validator, first.report)
    saved = tmp_path / "first.json"
    shutil.copy(tmp_path / "report.json", saved)

    against_history = run_perfrun(
        scenarios, "--history", history, "--baseline", "history", "--max-regression", "1000%"
    )
    against_report = run_perfrun(scenarios, "--baseline", str(saved), "--max-regression", "1000%")

    for run in (against_history, against_report):
        assert run.exit_code == 0, run.output
        assert_valid(validator, run.report)
        assert run.report is not None
        assert run.report["baseline"]["only_in_run"] == []
        changes = {c["metric"]: c for c in only_scenario(run.report)["comparison"]["changes"]}
        assert changes["p50"]["status"] == "unchanged"
        assert changes["p95"]["status"] == "not_comparable" and changes["p95"]["note"]
