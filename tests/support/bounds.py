"""Bounds a test derives from a run's own report, and what it observes of processes: so
that a test holds on a busy machine without ceasing to catch what it is for."""

from __future__ import annotations

from typing import Any

import psutil

from perfrun.engine.lag import PROBE_INTERVAL

PERCENTILE_SLACK = 1.002
"""HDR histograms give percentiles to 3 significant digits (0.1 %), the report to 0.001 ms."""


def closed_loop_limits_ms(
    s: dict[str, Any], requests_per_user: int, floor_ms: float
) -> tuple[float, float]:
    """Upper limits on a closed-model run's mean and median latency, from its own window.

    Each user sends its requests one after another inside the window, so their mean is at
    most window / requests_per_user. Every request takes at least `floor_ms` (the server's
    delay), and by Markov's inequality at most half of them exceed it by twice the mean
    excess: that bounds the p50. A busy machine stretches the window and the limits with
    it; a latency measured wrong (a unit, a shift, a request counted twice) does not.
    """
    mean = s["duration_s"] * 1000.0 / requests_per_user
    return mean * PERCENTILE_SLACK, (floor_ms + 2 * (mean - floor_ms)) * PERCENTILE_SLACK


def loop_late_s(s: dict[str, Any]) -> float:
    """The longest the run's event loop(s) ran behind: a pause of the machine or a long
    callback shows in the lag probe as a wake-up that late, less one probe interval at
    most, plus uvloop's millisecond timer granularity."""
    return float(s["generator"]["loop_lag_ms"]["max"]) / 1000.0 + PROBE_INTERVAL + 0.002


def connected(pids: list[int], port: int) -> set[int]:
    """Those of `pids` holding an established TCP connection to 127.0.0.1:`port`."""
    found = set()
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(
            c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port
            for c in connections
        ):
            found.add(pid)
    return found
