"""Leak cycles through `drive` (what production calls) on a scripted engine: the load runs
`cycles` times, each followed by its rest; no sockets, exact counts."""

from __future__ import annotations

import itertools
import time

from perfrun.execution.drive import drive, expected_load
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadModel, LoadSpec
from tests.support.scripted import Outcome, ScriptedEngine, cycle, scripted_scenario

EARLY = 0.01
"""asyncio's sleep may wake up to a clock tick early: rests are at least this much less
than asked."""


def run_cycles(load: LoadSpec) -> tuple[ScenarioStats, list[float], float]:
    """Drive `load`; its stats, when each rest ended (seconds after the load started),
    and how long it all took."""
    stats = ScenarioStats.for_load(load)
    ends: list[float] = []
    started = time.perf_counter()
    interrupted = drive(
        scripted_scenario(load), lambda: ScriptedEngine(cycle(Outcome())), stats,
        signals=(), cycle_end=lambda: ends.append(time.perf_counter() - stats.origin),
    )  # fmt: skip
    assert not interrupted
    return stats, ends, time.perf_counter() - started


def test_closed_load_runs_once_per_cycle_with_a_rest_after_each() -> None:
    load = LoadSpec(users=2, requests_per_user=5, cycles=3, rest=0.2)
    stats, ends, elapsed = run_cycles(load)
    assert stats.overall.total == 3 * 2 * 5
    assert len(ends) == 3
    gaps = [b - a for a, b in itertools.pairwise(ends)]
    assert all(gap >= 0.2 - EARLY for gap in gaps)  # each rest waited at least its length
    assert elapsed >= 3 * (0.2 - EARLY)
    # The two rests between cycles are not measured time; the last one is after it.
    assert stats.paused >= 2 * (0.2 - EARLY)
    assert stats.window <= ends[-1] - stats.paused


def test_a_duration_load_gets_its_full_duration_in_every_cycle() -> None:
    load = LoadSpec(users=1, duration=0.3, think_time=0.05, cycles=2, rest=0.1)
    stats, ends, _ = run_cycles(load)
    assert len(ends) == 2
    assert ends[0] >= 0.3 + 0.1 - EARLY
    assert ends[1] - ends[0] >= 0.3 + 0.1 - EARLY  # the second cycle ran for its 0.3 s too
    assert stats.overall.total >= 2 * 2  # a few requests in each cycle, however slow


def test_open_load_cycles_send_every_cycle_s_schedule() -> None:
    load = LoadSpec(model=LoadModel.OPEN, rate=50, duration=0.2, cycles=2, rest=0.1)
    stats, ends, _ = run_cycles(load)
    assert stats.schedule.due == 2 * 10
    assert stats.overall.total == 2 * 10
    assert len(ends) == 2


def test_a_load_without_cycles_has_no_rest_and_no_reading() -> None:
    stats, ends, _ = run_cycles(LoadSpec(users=2, requests_per_user=3))
    assert (stats.overall.total, ends, stats.paused) == (6, [], 0.0)


def test_expected_load_counts_every_cycle_and_rest() -> None:
    assert expected_load(LoadSpec(users=2, requests_per_user=5, cycles=3, rest=1)) == (30, None)
    assert expected_load(LoadSpec(users=2, duration=10, cycles=3, rest=2)) == (None, 36)
    assert expected_load(LoadSpec(users=2, duration=10)) == (None, 10)
