"""Event-loop lag: how late the loop wakes a task that asked to sleep a fixed time.

When the generator's loop is too busy to run callbacks on time, every latency it
measures is inflated by that delay; the lag is the evidence that the generator, not
the target, was the bottleneck.
"""

from __future__ import annotations

import asyncio
import time

from perfrun.metrics.histogram import LatencyHistogram

PROBE_INTERVAL = 0.010


async def probe_loop_lag(histogram: LatencyHistogram, interval: float = PROBE_INTERVAL) -> None:
    """Record the lag of every wake-up into `histogram` until cancelled."""
    while True:
        asked = time.perf_counter() + interval
        await asyncio.sleep(interval)
        histogram.record(max(time.perf_counter() - asked, 0.0))
