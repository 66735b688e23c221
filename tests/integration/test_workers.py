"""One scenario over several worker processes: shares add up, stats merge losslessly."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perfrun.engine.pacer import Pacer, Positions
from perfrun.engine.profile import Profile
from perfrun.engine.share import Share
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import Arrival
from tests.support.perfrun_cli import (
    RunPerfrun,
    TargetProcess,
    only_scenario,
    scenario,
    scenario_with_load,
    write_scenarios,
)


@pytest.mark.parametrize(
    ("share", "total", "indices"),
    [
        (Share(0, 1), 5, [0, 1, 2, 3, 4]),
        (Share(0, 2), 5, [0, 2, 4]),
        (Share(1, 2), 5, [1, 3]),
        (Share(2, 3), 2, []),
    ],
)
def test_share_takes_every_nth_index(share: Share, total: int, indices: list[int]) -> None:
    assert list(share.indices(total)) == indices


@pytest.mark.parametrize(
    ("count", "limit", "cap"), [(1, 1000, 1000), (2, 1000, 500), (3, 10, 4), (4, 1, 1)]
)
def test_share_of_a_cap_is_at_least_one_and_covers_the_whole(
    count: int, limit: int, cap: int
) -> None:
    assert Share(0, count).cap(limit) == cap


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_uniform_schedule_split_over_workers_is_the_whole_schedule(workers: int) -> None:
    pacer = Pacer(Profile.constant(100.0, 2.0))
    due_times: list[float] = []
    for index in range(workers):
        positions = Positions(Arrival.UNIFORM, share=Share(index, workers))
        while (due := pacer.due(positions.current)) is not None:
            due_times.append(due)
            positions.advance()
    assert sorted(due_times) == pytest.approx([n / 100.0 for n in range(200)])


def test_scenario_stats_survive_pickling_between_processes() -> None:
    stats = ScenarioStats(origin=10.0, warmup=0.5, scheduled=True)
    for i in range(300):
        error = ErrorKind.HTTP_5XX if i % 7 == 0 else None
        stats.record(
            RequestResult("a", 10.0 + i * 0.01, 0.002 + i * 1e-5, 200, 5, error, "x", 0.001)
        )
    back = pickle.loads(pickle.dumps(stats))
    assert back.overall.total == stats.overall.total
    assert back.warmup.total == stats.warmup.total
    assert back.overall.latency.summary_ms() == stats.overall.latency.summary_ms()
    assert back.service.summary_ms() == stats.service.summary_ms()
    assert {t: s.requests for t, s in back.timeline.seconds().items()} == {
        t: s.requests for t, s in stats.timeline.seconds().items()
    }


def _run(run_perfrun: RunPerfrun, scenarios: dict[str, Any], workers: int) -> dict[str, Any]:
    run = run_perfrun(scenarios, "--workers", str(workers))
    assert run.exit_code == 0, run.output
    return only_scenario(run.report)


def test_two_workers_send_the_same_closed_model_total_as_one(
    run_perfrun: RunPerfrun, delay_target: TargetProcess
) -> None:
    scenarios = {
        "split": scenario(
            delay_target.url,
            users=6,
            requests_per_user=25,
            requests=[
                {"name": "a", "path": "/a", "weight": 3},
                {"name": "b", "path": "/b", "weight": 1},
            ],
        )
    }
    one, two = _run(run_perfrun, scenarios, 1), _run(run_perfrun, scenarios, 2)

    for s in (one, two):
        assert s["requests"]["total"] == s["requests"]["succeeded"] == 150
        assert sum(e["requests"]["total"] for e in s["endpoints"].values()) == 150
        assert sum(p["requests"] for p in s["timeline"]) == 150
        # Merged percentiles are those of a 20 ms server, as in one process.
        assert 20.0 <= s["latency_ms"]["p50"] <= 28.0
        assert s["latency_ms"]["min"] >= 20.0
    assert one["generator"]["workers"] == 1
    assert two["generator"]["workers"] == 2
    assert abs(one["latency_ms"]["p50"] - two["latency_ms"]["p50"]) < 5.0


def test_two_workers_keep_an_open_schedule_exactly(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    scenarios = {"open": scenario_with_load(plain_target.url, {"rate": 150, "duration": "2s"})}
    one, two = _run(run_perfrun, scenarios, 1), _run(run_perfrun, scenarios, 2)

    for s in (one, two):
        assert s["schedule"]["due"] == s["schedule"]["sent"] == 300
        assert s["requests"]["total"] == 300
        assert s["requests"]["rps"] == pytest.approx(150.0, rel=0.01)
    assert [p["requests"] for p in two["timeline"][:2]] == pytest.approx([150, 150], abs=3)


@pytest.mark.parametrize(
    ("sent", "ignored"),
    [
        (signal.SIGTERM, signal.SIGINT),  # CI cancelling a job
        # Ctrl-C, perfrun started ignoring SIGTERM: the workers, which inherit that, must
        # still hear the parent's SIGTERM that stops them, or their figures are lost.
        (signal.SIGINT, signal.SIGTERM),
    ],
    ids=["SIGTERM", "SIGINT-with-SIGTERM-ignored"],
)
def test_interrupting_a_multi_worker_run_keeps_what_the_workers_measured(
    tmp_path: Path, plain_target: TargetProcess, sent: signal.Signals, ignored: signal.Signals
) -> None:
    directory = tmp_path / "scenarios"
    write_scenarios(
        directory, {"long": scenario_with_load(plain_target.url, {"rate": 100, "duration": "30s"})}
    )
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "perfrun",
            "--scenarios-dir",
            str(directory),
            "-o",
            str(report),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(ignored, signal.SIG_IGN),
    )
    try:
        time.sleep(3.0)
        process.send_signal(sent)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    s = only_scenario(data)
    assert s["status"] == "interrupted"
    assert s["requests"]["total"] > 50  # both workers' shares up to the signal
    assert s["generator"]["workers"] == 2
