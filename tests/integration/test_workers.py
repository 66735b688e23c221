"""One scenario over several worker processes: shares add up, stats merge losslessly."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from tests.servers.launch import TargetProcess
from tests.support.bounds import closed_loop_limits_ms, connected, loop_late_s
from tests.support.perfrun_cli import (
    RunPerfrun,
    StartTarget,
    arrival_stats,
    only_scenario,
    scenario,
    scenario_with_load,
    write_scenarios,
)


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
        # Merged figures are those of a 20 ms server, as in one process: nothing is faster
        # than the server's sleep, and nothing slower than each run's own window allows
        # (see closed_loop_limits_ms). Histograms merged with a shift, a scale or a request
        # counted twice break one side or the other, however busy the machine.
        latency = s["latency_ms"]
        mean_limit, p50_limit = closed_loop_limits_ms(s, requests_per_user=25, floor_ms=20.0)
        assert latency["min"] >= 20.0
        assert latency["avg"] <= mean_limit
        assert 20.0 <= latency["p50"] <= p50_limit
    assert one["generator"]["workers"] == 1
    assert two["generator"]["workers"] == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_two_workers_keep_an_open_schedule_exactly(
    run_perfrun: RunPerfrun, target: StartTarget, workers: int
) -> None:
    server = target("--arrival-stats")
    scenarios = {"open": scenario_with_load(server.url, {"rate": 150, "duration": "2s"})}
    s = _run(run_perfrun, scenarios, workers)
    seen = arrival_stats(server).requests

    schedule, total = s["schedule"], s["requests"]["total"]
    # Each of the 300 requests is due in exactly one share, sent at most once and counted
    # once: what the workers sent, what the server saw and what the report counts agree.
    assert schedule["due"] == 300
    assert schedule["sent"] + schedule["dropped"] == 300
    assert total == s["requests"]["succeeded"] == schedule["sent"] == seen
    # A request is dropped only when its worker reaches it after the schedule's end, i.e.
    # only those due in the last loop_late_s(s) seconds: a paused machine drops one or two
    # at the very end, a worker that ends its share early drops half a second's worth.
    assert schedule["dropped"] <= 150 * loop_late_s(s) + workers
    # The window runs from the first intended send (t = 0) to the schedule's end (2 s) or
    # to the last answer, at most the slowest latency after its intended time (the last
    # request is intended at 299/150 s), and the rate is counted over it: 150/s, however
    # slow the machine, while windows added up per worker would halve it.
    latest_s = s["latency_ms"]["max"] / 1000.0
    window = s["window"]["duration_s"]
    assert 2.0 <= window <= max(2.0, 299 / 150 + latest_s) + 0.001
    assert s["requests"]["rps"] == pytest.approx(total / window, rel=1e-3)
    # A request intended at t ends in [t, t + latest]: second 0 counts its 150 intended
    # requests less those that end after it, second 1 its own 150 give or take as many
    # either way (and less the dropped). Timelines of two workers merged on different
    # origins, or one worker's missing, are off by half of it.
    slack = math.ceil(150 * latest_s) + 1
    by_second = {p["t"]: p["requests"] for p in s["timeline"]}
    assert 150 - slack <= by_second[0] <= 150, s["timeline"]
    assert 150 - slack - schedule["dropped"] <= by_second[1] <= 150 + slack, s["timeline"]
    assert s["generator"]["workers"] == workers


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
    tmp_path: Path, target: StartTarget, sent: signal.Signals, ignored: signal.Signals
) -> None:
    server = target("--arrival-stats")
    directory = tmp_path / "scenarios"
    write_scenarios(
        directory, {"long": scenario_with_load(server.url, {"rate": 100, "duration": "30s"})}
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
        # Not a fixed sleep: spawning two workers takes seconds on a busy machine. Once both
        # hold a connection to the target, both are sending their share; then a second more.
        _wait_until_connected(process, urlsplit(server.url).port or 0, count=2)
        time.sleep(1.0)
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
    # Exact whatever the timing: every request counted was answered, so read by the target,
    # and every request the target read was sent, so counted as sent. Had one worker's
    # figures been lost, `sent` would lack its share of what the target read (about 50 in
    # that second) and fall below `seen`; with both lost, `total` would be 0.
    seen = arrival_stats(server).requests
    assert 0 < s["requests"]["total"] <= seen <= s["schedule"]["sent"]
    assert s["generator"]["workers"] == 2


def _wait_until_connected(
    process: subprocess.Popen[str], port: int, count: int, timeout: float = 60.0
) -> None:
    """Wait until `count` of perfrun's worker processes hold a connection to `port`."""
    deadline = time.monotonic() + timeout
    parent = psutil.Process(process.pid)
    while len(connected([c.pid for c in parent.children(recursive=True)], port)) < count:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{count} workers never sent: {process.communicate()}")
        time.sleep(0.05)
