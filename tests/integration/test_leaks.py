"""Leak verdicts against real processes that leak at a known rate (tests/servers/leaky.py),
monitored by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.launch import TargetProcess, start_target
from tests.support.perfrun_cli import RunPerfrun, only_scenario, scenario

LEAKY = Path(__file__).parents[1] / "servers" / "leaky.py"


@pytest.fixture()
def leaky() -> Iterator[Any]:
    started: list[TargetProcess] = []

    def start(*args: str) -> TargetProcess:
        process = start_target(*args, script=LEAKY)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def verdicts(report: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {v["key"]: v for v in only_scenario(report)["thresholds"]}


def test_memory_growth_is_measured_within_10_percent_of_the_leak_rate(
    leaky: Any, run_perfrun: RunPerfrun
) -> None:
    rate_mb_per_s = 4.0
    server = leaky("--grow-mb-per-s", str(rate_mb_per_s))
    result = run_perfrun(
        {
            "grows": scenario(
                server.url,
                users=2,
                duration="12s",
                warmup="1s",
                think_time="50ms",
                monitor={"pid": server.pid, "interval": "250ms"},
                thresholds={"max_memory_growth_mb_per_hour": 1000},
            )
        }
    )
    assert result.exit_code == 1, result.output
    growth = only_scenario(result.report)["resources"]["target"]["memory_growth_mb_per_hour"]
    expected = rate_mb_per_s * 3600
    assert growth["slope"] == pytest.approx(expected, rel=0.10)
    assert growth["low"] <= growth["slope"] <= growth["high"]
    assert growth["points"] >= 30
    verdict = verdicts(result.report)["max_memory_growth_mb_per_hour"]
    assert (verdict["status"], verdict["actual"]) == ("fail", growth["slope"])
    assert "95 % CI" in verdict["note"]


def test_a_flat_target_passes_the_growth_and_handle_thresholds(
    leaky: Any, run_perfrun: RunPerfrun
) -> None:
    server = leaky()
    result = run_perfrun(
        {
            "flat": scenario(
                server.url,
                users=2,
                duration="12s",
                warmup="1s",
                think_time="50ms",
                monitor={"pid": server.pid, "interval": "250ms"},
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
    assert {v["status"] for v in verdicts(result.report).values()} == {"pass"}


def test_a_target_leaking_a_file_per_request_fails_open_files_growth(
    leaky: Any, run_perfrun: RunPerfrun
) -> None:
    server = leaky("--leak-fd")
    result = run_perfrun(
        {
            "fds": scenario(
                server.url,
                users=2,
                requests_per_user=30,
                monitor={"pid": server.pid},
                thresholds={"max_open_files_growth": 10},
            )
        }
    )
    assert result.exit_code == 1, result.output
    verdict = verdicts(result.report)["max_open_files_growth"]
    assert (verdict["status"], verdict["actual"]) == ("fail", 60)


def test_leak_cycles_read_rss_after_each_rest_and_judge_its_trend(
    leaky: Any, run_perfrun: RunPerfrun
) -> None:
    server = leaky("--leak-kb-per-request", "64")
    result = run_perfrun(
        {
            "cycles": scenario(
                server.url,
                users=2,
                requests_per_user=40,
                cycles=4,
                rest="500ms",
                monitor={"pid": server.pid},
                thresholds={"max_memory_growth_mb_per_cycle": 1, "min_rps": 1},
            )
        }
    )
    assert result.exit_code == 1, result.output
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


def test_a_flat_target_passes_the_cycle_trend(leaky: Any, run_perfrun: RunPerfrun) -> None:
    server = leaky()
    result = run_perfrun(
        {
            "cycles": scenario(
                server.url,
                users=2,
                requests_per_user=40,
                cycles=4,
                rest="500ms",
                monitor={"pid": server.pid},
                thresholds={"max_memory_growth_mb_per_cycle": 0.5},
            )
        }
    )
    assert result.exit_code == 0, result.output
