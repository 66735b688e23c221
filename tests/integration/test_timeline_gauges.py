"""What the load's loop samples once a second (bytes received, requests in flight) reaches the
JSON report's timeline, summed over worker processes, and the last point says how much of
its second was measured."""

from __future__ import annotations

from typing import Any

import pytest

from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import RunPerfrun, only_scenario, scenario_with_load

MAX_IN_FLIGHT = 8


def _check_measured_spans(s: dict[str, Any]) -> None:
    """Every point measured whole but the last, which ends at the last completion."""
    *whole, last = s["timeline"]
    assert all(p["measured_s"] == p["span_s"] == 1 for p in whole)
    assert 0 <= last["measured_s"] <= 1
    assert last["t"] + last["measured_s"] == pytest.approx(s["window"]["end_s"], abs=0.002)


@pytest.mark.parametrize("workers", [1, 2])
def test_open_model_samples_in_flight_and_bytes_in_each_worker_and_sums_them(
    run_perfrun: RunPerfrun, delay_target: TargetProcess, workers: int
) -> None:
    load = {"rate": 200, "duration": "2s", "max_in_flight": MAX_IN_FLIGHT}
    run = run_perfrun(
        {"gauged": scenario_with_load(delay_target.url, load)}, "--workers", str(workers)
    )
    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    points = s["timeline"]
    assert sum(p["requests"] for p in points) == s["requests"]["total"] == 400
    # Every byte is in one second, however the workers' seconds were sampled.
    assert sum(p["bytes_received"] for p in points) == s["requests"]["bytes_received"] > 0
    assert all(p["users"] is None for p in points)  # the open model has none
    sampled = [p["in_flight"] for p in points if p["in_flight"] is not None]
    assert sampled, points
    # The cap holds over all workers; a 20 ms server keeps some requests in flight at
    # every second's end (sent every 5 ms, none answered in less than 20 ms).
    assert all(0 <= n <= MAX_IN_FLIGHT for n in sampled)
    assert max(sampled) > 0
    _check_measured_spans(s)


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_closed_model_charts_its_scheduled_users_and_the_fast_engines_in_flight(
    run_perfrun: RunPerfrun, delay_target: TargetProcess, engine: str
) -> None:
    load = {"users": 4, "duration": "2s", "ramp_up": "1s"}
    ramped = {**scenario_with_load(delay_target.url, load), "engine": engine}
    run = run_perfrun({"ramped": ramped})
    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["engine"] == engine
    points = s["timeline"]
    # User i starts at i × 0.25 s: 3 running at 0.5 s, all 4 from 1 s on.
    assert points[0]["users"] == 3
    assert all(p["users"] == 4 for p in points[1:])
    assert sum(p["bytes_received"] for p in points) == s["requests"]["bytes_received"] > 0
    _check_measured_spans(s)
    sampled = [p["in_flight"] for p in points if p["in_flight"] is not None]
    if engine == "httpx":  # it cannot count them without a count per request
        assert sampled == []
        return
    # The fast engine counts its users' requests awaiting a response: never more than
    # its users, and some at every second's end (a user writes its next request from
    # the response's callback; a 20 ms server answers none sooner).
    assert sampled, points
    assert all(0 <= n <= 4 for n in sampled)
    assert max(sampled) > 0
