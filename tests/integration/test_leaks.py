"""Leak verdicts against real processes that leak at a known rate (tests/servers/leaky.py),
launched by perfrun as the scenario's `target:` (the monitored process), and never left
running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.perfrun_cli import RunPerfrun, only_scenario, scenario
from tests.support.processes import gone, launched_target

LEAKY = Path(__file__).parents[1] / "servers" / "leaky.py"


def launched(*args: str, **fields: Any) -> dict[str, Any]:
    """A scenario (`fields` as for `scenario`) whose target perfrun launches: leaky.py
    with `args`, monitored as the launched target."""
    s = scenario("http://127.0.0.1:9", **fields)
    del s["base_url"]
    s["target"] = launched_target(LEAKY, *args)
    return s


def stopped(report: dict[str, Any] | None) -> bool:
    """The scenario's launched target is gone after the run."""
    return gone(only_scenario(report)["target"]["pid"])


def verdicts(report: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {v["key"]: v for v in only_scenario(report)["thresholds"]}


def test_memory_growth_is_measured_within_10_percent_of_the_leak_rate(
    run_perfrun: RunPerfrun,
) -> None:
    rate_mb_per_s = 4.0
    result = run_perfrun(
        {
            "grows": launched(
                "--grow-mb-per-s",
                str(rate_mb_per_s),
                users=2,
                duration="12s",
                warmup="1s",
                think_time="50ms",
                monitor={"interval": "250ms"},
                thresholds={"max_memory_growth_mb_per_hour": 1000},
            )
        }
    )
    assert result.exit_code == 1, result.output
    assert stopped(result.report)
    growth = only_scenario(result.report)["resources"]["target"]["memory_growth_mb_per_hour"]
    expected = rate_mb_per_s * 3600
    assert growth["slope"] == pytest.approx(expected, rel=0.10)
    assert growth["low"] <= growth["slope"] <= growth["high"]
    assert growth["points"] >= 30
    verdict = verdicts(result.report)["max_memory_growth_mb_per_hour"]
    assert (verdict["status"], verdict["actual"]) == ("fail", growth["slope"])
    assert "95 % CI" in verdict["note"]


def test_a_flat_target_passes_the_growth_and_handle_thresholds(run_perfrun: RunPerfrun) -> None:
    result = run_perfrun(
        {
            "flat": launched(
                users=2,
                duration="12s",
                warmup="1s",
                think_time="50ms",
                monitor={"interval": "250ms"},
                thresholds={
                    "max_memory_growth_mb_per_hour": 200,
                    "max_open_files_growth": 0,
                    "max_open_files": 50,
                    "max_threads": 5,
                    "max_connections": 20,
                },
            )
        }
    )
    assert result.exit_code == 0, result.output
    assert stopped(result.report)
    assert {v["status"] for v in verdicts(result.report).values()} == {"pass"}


def test_a_target_leaking_a_file_per_request_fails_open_files_growth(
    run_perfrun: RunPerfrun,
) -> None:
    result = run_perfrun(
        {
            "fds": launched(
                "--leak-fd",
                users=2,
                requests_per_user=30,
                thresholds={"max_open_files_growth": 10},
            )
        }
    )
    assert result.exit_code == 1, result.output
    assert stopped(result.report)
    verdict = verdicts(result.report)["max_open_files_growth"]
    assert (verdict["status"], verdict["actual"]) == ("fail", 60)


def test_leak_cycles_read_rss_after_each_rest_and_judge_its_trend(run_perfrun: RunPerfrun) -> None:
    result = run_perfrun(
        {
            "cycles": launched(
                "--leak-kb-per-request",
                "64",
                users=2,
                requests_per_user=40,
                cycles=4,
                rest="500ms",
                thresholds={"max_memory_growth_mb_per_cycle": 1, "min_rps": 1},
            )
        }
    )
    assert result.exit_code == 1, result.output
    assert stopped(result.report)
    report = only_scenario(result.report)
    target = report["resources"]["target"]
    assert len(target["memory_mb_per_cycle"]) == 4
    per_cycle = 80 * 64 / 1024  # 80 requests a cycle, 64 KiB each: 5 MiB
    assert target["memory_growth_mb_per_cycle"]["slope"] == pytest.approx(per_cycle, rel=0.10)
    assert report["requests"]["total"] == 4 * 80
    # The rests between cycles are not measured time.
    assert report["window"]["duration_s"] < report["window"]["end_s"] - 1.4
    verdict = verdicts(result.report)
    assert verdict["max_memory_growth_mb_per_cycle"]["status"] == "fail"
    assert verdict["min_rps"]["status"] == "pass"


def test_a_flat_target_passes_the_cycle_trend(run_perfrun: RunPerfrun) -> None:
    result = run_perfrun(
        {
            "cycles": launched(
                users=2,
                requests_per_user=40,
                cycles=4,
                rest="500ms",
                thresholds={"max_memory_growth_mb_per_cycle": 0.5},
            )
        }
    )
    assert result.exit_code == 0, result.output
    assert stopped(result.report)
