"""Leak verdicts against real processes that leak at a known rate (tests/servers/leaky.py),
launched by perfrun as the scenario's `target:` (the monitored process), and never left
running.

The two 12 s runs (a growth slope needs the time) run side by side, each a `perfrun`
process of its own with its own target: what they measure is their target's memory and
handles, which the other run does not touch, and 2 users with a 50 ms think time each
leave the machine nearly idle. The other runs are in-process, one after another.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.perfrun_cli import (
    REPORT_NAME,
    SCENARIOS_DIR,
    PerfrunRun,
    RunPerfrun,
    only_scenario,
    scenario,
    write_scenarios,
)
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


class Started:
    """`python -m perfrun` on `scenarios`, started and left running; `result()` waits."""

    def __init__(self, directory: Path, scenarios: dict[str, Any]) -> None:
        write_scenarios(directory / SCENARIOS_DIR, scenarios)
        self.report_path = directory / REPORT_NAME
        self.process = subprocess.Popen(
            [sys.executable, "-m", "perfrun", "--scenarios-dir", str(directory / SCENARIOS_DIR),
             "--output", str(self.report_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def result(self) -> PerfrunRun:
        output, _ = self.process.communicate(timeout=120)
        assert "Traceback" not in output, output
        report = json.loads(self.report_path.read_text()) if self.report_path.exists() else None
        return PerfrunRun(self.process.returncode, output, report)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


RATE_MB_PER_S = 4.0


@pytest.fixture(scope="module")
def long_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Started]]:
    """The growing and the flat target's 12 s runs, started together."""
    runs = {
        "grows": Started(
            tmp_path_factory.mktemp("grows"),
            {
                "grows": launched(
                    "--grow-mb-per-s",
                    str(RATE_MB_PER_S),
                    users=2,
                    duration="12s",
                    warmup="1s",
                    think_time="50ms",
                    monitor={"interval": "250ms"},
                    thresholds={"max_memory_growth_mb_per_hour": 1000},
                )
            },
        ),
        "flat": Started(
            tmp_path_factory.mktemp("flat"),
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
            },
        ),
    }
    try:
        yield runs
    finally:
        for run in runs.values():
            run.kill()


def test_memory_growth_is_measured_within_10_percent_of_the_leak_rate(
    long_runs: dict[str, Started],
) -> None:
    result = long_runs["grows"].result()
    assert result.exit_code == 1, result.output
    assert stopped(result.report)
    growth = only_scenario(result.report)["resources"]["target"]["memory_growth_mb_per_hour"]
    expected = RATE_MB_PER_S * 3600
    assert growth["slope"] == pytest.approx(expected, rel=0.10)
    assert growth["low"] <= growth["slope"] <= growth["high"]
    assert growth["points"] >= 30
    verdict = verdicts(result.report)["max_memory_growth_mb_per_hour"]
    assert (verdict["status"], verdict["actual"]) == ("fail", growth["slope"])
    assert "95 % CI" in verdict["note"]


def test_a_flat_target_passes_the_growth_and_handle_thresholds(
    long_runs: dict[str, Started],
) -> None:
    result = long_runs["flat"].result()
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
