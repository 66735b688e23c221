"""Thresholds judged over time on a real target: `over` windows and `abort: true`."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import RunPerfrun, StartTarget, only_scenario, scenario_with_load
from tests.support.processes import gone, launched_target

TARGET = Path(__file__).parents[1] / "servers" / "target.py"
SLOW_AFTER = 5.0
WINDOW = 3


def test_a_target_that_turns_slow_is_aborted_within_a_window_of_the_slowdown(
    run_perfrun: RunPerfrun,
) -> None:
    """The issue's done-when: slow after 5 s, a 3 s window threshold stops the load within
    ~window + 2 s of the slowdown, the figures so far are kept, and the report says which
    threshold stopped it, when, and on which window."""
    threshold = {"limit": 200, "over": f"{WINDOW}s", "abort": True}
    load = {"rate": 20, "duration": "30s", "max_in_flight": 50}
    degrading = scenario_with_load(
        "http://127.0.0.1:9", load, thresholds={"max_p95_response_ms": threshold}
    )
    del degrading["base_url"]  # perfrun launches the target: the URL is its port's
    args = ("--slow-after", str(SLOW_AFTER), "--slow-ms", "400")
    degrading["target"] = launched_target(TARGET, *args)
    started = time.monotonic()
    run = run_perfrun({"degrading": degrading})
    took = time.monotonic() - started

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert gone(s["target"]["pid"])
    assert s["status"] == "aborted"
    assert not s["passed"]
    match = re.fullmatch(
        r"aborted at ([\d.]+)s by max_p95_response_ms: window (\d+)s–(\d+)s: ([\d.]+) ms",
        s["message"],
    )
    assert match, s["message"]
    at, start, end, value = (float(g) for g in match.groups())
    # The slowdown starts ~5 s into the load (the target counts from its first request).
    assert SLOW_AFTER < at <= SLOW_AFTER + WINDOW + 2
    assert end - start == WINDOW and end <= at
    assert value > 200
    assert took < 25  # well before the 30 s schedule ends
    # What was measured is kept, fast seconds and slow ones.
    assert s["requests"]["total"] >= 20 * SLOW_AFTER * 0.8
    assert s["latency_ms"]["max"] >= 400
    (verdict,) = s["thresholds"]
    assert verdict["status"] == "fail"
    assert verdict["over_s"] == WINDOW
    assert verdict["window"]["start_s"] == start and verdict["window"]["end_s"] == end
    assert "aborted at" in run.output


def test_a_window_threshold_fails_where_the_whole_run_passes(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    """Without abort the run goes on; the window verdict names the first failing window
    while the same limit over the whole run passes (the slow stretch hides in it)."""
    slow = target("--slow-after", "3", "--slow-ms", "300")
    load = {"rate": 20, "duration": "5s", "max_in_flight": 50}
    run = run_perfrun(
        {
            "windowed": scenario_with_load(
                slow.url,
                load,
                thresholds={
                    "max_avg_response_ms": {"limit": 250, "over": "1s"},
                    "max_p50_response_ms": 250,
                },
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["status"] == "completed"
    windowed, whole = s["thresholds"]
    assert (windowed["status"], whole["status"]) == ("fail", "pass")
    assert windowed["window"]["start_s"] >= 3
    assert windowed["window"]["value"] > 250
    assert "first failing window" in run.output


def test_a_threshold_between_warn_and_limit_reads_warn_everywhere_and_exits_0(
    run_perfrun: RunPerfrun, target: StartTarget, tmp_path: Path
) -> None:
    """The issue's done-when for tiers, through every output; --fail-on-warn makes it 1."""
    slowish = target("--delay-ms", "30")
    tiers = {"max_avg_response_ms": {"limit": 5000, "warn": 10}}
    scenarios = {
        "tiered": scenario_with_load(
            slowish.url, {"users": 2, "requests_per_user": 5}, thresholds=tiers
        )
    }
    outputs = {name: tmp_path / name for name in ("r.html", "r.xml", "r.md")}
    args = ("--html", str(outputs["r.html"]), "--junit", str(outputs["r.xml"]))
    run = run_perfrun(scenarios, *args, "--markdown", str(outputs["r.md"]))

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    (verdict,) = s["thresholds"]
    assert (verdict["status"], verdict["passed"], verdict["warn"]) == ("warn", True, 10)
    assert s["passed"] is True
    assert "tiered (load, low) WARN" in " ".join(run.output.split())
    assert "PASSED WITH WARNINGS: 1 passed (1 with warnings), 0 failed" in run.output
    assert '<span class="badge warn">WARN</span>' in outputs["r.html"].read_text()
    junit = outputs["r.xml"].read_text()
    assert '<property name="verdict.tiered" value="WARN" />' in junit
    assert "<failure" not in junit
    assert "| ⚠️ warn |" in outputs["r.md"].read_text()

    failing = run_perfrun(scenarios, "--fail-on-warn")
    assert failing.exit_code == 1, failing.output
    assert only_scenario(failing.report)["passed"] is False
    assert "(WARN) (--fail-on-warn)" in " ".join(failing.output.split())


def test_a_scenario_without_thresholds_is_judged_on_its_types_defaults(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    """No silent pass: every request failing fails the type's default success rate."""
    failing = target("--fail-every", "1")
    scenarios = {
        "unjudged": scenario_with_load(
            failing.url, {"users": 2, "requests_per_user": 5}, thresholds=None
        )
    }
    run = run_perfrun(scenarios)

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    by_key = {v["key"]: v for v in s["thresholds"]}
    assert set(by_key) == {"max_avg_response_ms", "min_rps", "min_success_rate"}
    assert all(v["default"] for v in by_key.values())
    assert by_key["min_success_rate"]["status"] == "fail"
    assert "(default)" in run.output


def test_per_request_thresholds_judge_each_step_on_its_own(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    steps = [{"name": "first", "path": "/a"}, {"name": "second", "path": "/b"}]
    body = scenario_with_load(
        plain_target.url,
        {"users": 2, "iterations": 3},
        thresholds={
            "per_request": {
                "first": {"max_p95_response_ms": 5000},
                "second": {"min_rps": 1_000_000},
            }
        },
    )
    body.pop("requests")
    body["flow"] = steps
    run = run_perfrun({"steps": body})

    assert run.exit_code == 1, run.output
    first, second = only_scenario(run.report)["thresholds"]
    assert (first["key"], first["status"]) == ("per_request.first.max_p95_response_ms", "pass")
    assert (second["key"], second["status"]) == ("per_request.second.min_rps", "fail")
    assert second["actual"] > 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_peak_threshold_aborts_without_a_window(
    run_perfrun: RunPerfrun, target: StartTarget, workers: str
) -> None:
    """The issue's `max_memory_mb: {limit: 800, abort: true}`: a target holding 80 MB is
    stopped by a 40 MB limit at the first check that has a sample, not after 20 s (with
    --workers, by the parent, which holds the monitor)."""
    heavy = target("--alloc-mb", "80")
    body = scenario_with_load(
        heavy.url,
        {"rate": 20, "duration": "20s"},
        thresholds={"max_memory_mb": {"limit": 40, "abort": True}},
        monitor={"pid": heavy.pid, "interval": "200ms"},
    )
    run = run_perfrun({"heavy": body}, "--workers", workers)

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["status"] == "aborted"
    match = re.fullmatch(r"aborted at ([\d.]+)s by max_memory_mb: ([\d.]+) MB", s["message"])
    assert match, s["message"]
    assert float(match[1]) <= 3 and float(match[2]) >= 80
    (verdict,) = s["thresholds"]
    assert verdict["status"] == "fail"


def test_workers_abort_too_each_judging_its_share(run_perfrun: RunPerfrun) -> None:
    """With --workers 2, each worker judges the window on its share (every other
    request): the first to fail stops both, the merged figures are kept and judged, and
    the scenario reads aborted, not interrupted."""
    threshold = {"limit": 200, "over": f"{WINDOW}s", "abort": True}
    load = {"rate": 20, "duration": "30s", "max_in_flight": 50}
    degrading = scenario_with_load(
        "http://127.0.0.1:9", load, thresholds={"max_p95_response_ms": threshold}
    )
    del degrading["base_url"]
    degrading["target"] = launched_target(
        TARGET, "--slow-after", str(SLOW_AFTER), "--slow-ms", "400"
    )
    started = time.monotonic()
    run = run_perfrun({"degrading": degrading}, "--workers", "2")
    took = time.monotonic() - started

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["status"] == "aborted", s["message"]
    match = re.match(r"aborted at ([\d.]+)s by max_p95_response_ms", s["message"])
    assert match, s["message"]
    at = float(match[1])
    assert SLOW_AFTER < at <= SLOW_AFTER + WINDOW + 2
    assert took < 25  # well before the 30 s schedule ends
    assert s["requests"]["total"] >= 20 * SLOW_AFTER * 0.8  # both shares' figures
    (verdict,) = s["thresholds"]
    assert verdict["status"] == "fail"
    assert gone(s["target"]["pid"])


def test_an_unreachable_target_is_unreachable_even_when_a_window_aborts_first(
    run_perfrun: RunPerfrun,
) -> None:
    """Every request refused: a 1 s success-rate window with abort fires before the
    unreachable check would, but the run still reads unreachable (exit 3), not a
    verdict about a service that was never reached."""
    refused = scenario_with_load(
        "http://127.0.0.1:9",
        {"users": 2, "duration": "20s"},
        thresholds={"min_success_rate": {"limit": 95, "over": "1s", "abort": True}},
    )
    run = run_perfrun({"refused": refused})
    assert run.exit_code == 3, run.output
    assert only_scenario(run.report)["status"] == "unreachable"
