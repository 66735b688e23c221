"""Sleeping until a moment, never waking before it."""

from __future__ import annotations

import asyncio
import time


async def sleep_until(when: float) -> None:
    """Sleep until `when` (a perf_counter time), never returning early: uvloop's timers
    have millisecond resolution against a clock cached per loop iteration, so one sleep
    can wake up to ~1 ms early; a request sent early would shorten its own latency."""
    while (remaining := when - time.perf_counter()) > 0:
        await asyncio.sleep(remaining)
