"""Backing off from a failing target: the waits (a table), and the closed model's users
on the scripted engine, as a flow (cookies kept, the default) and as the lean loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from perfrun.engine.backoff import Backoff, Backoffs, backoff_delay
from perfrun.execution.drive import drive
from perfrun.metrics.result import ErrorKind
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadSpec, Scenario
from tests.support.scripted import Outcome, ScriptedEngine, cycle, fails, first, scripted_scenario

REFUSED = fails(ErrorKind.CONNECT_REFUSED)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.05), (4, 0.1), (5, 0.2), (7, 0.8), (8, 1.0),
     (60, 1.0), (10**6, 1.0)],
)  # fmt: skip
def test_the_wait_doubles_from_the_third_failed_connect_up_to_a_second(
    failures: int, delay: float
) -> None:
    assert backoff_delay(failures) == pytest.approx(delay)


@pytest.mark.parametrize("kind", [None, ErrorKind.RESET, ErrorKind.TIMEOUT, ErrorKind.HTTP_5XX])
def test_any_answer_or_a_failure_after_connecting_ends_the_streak(kind: ErrorKind | None) -> None:
    backoff = Backoff()
    for _ in range(5):
        backoff.after(ErrorKind.CONNECT_REFUSED)
    assert backoff.after(kind) == 0.0
    assert [backoff.after(ErrorKind.CONNECT_TIMEOUT) for _ in range(3)] == [0.0, 0.0, 0.05]


def _drive(scenario: Scenario, engine: ScriptedEngine) -> tuple[ScenarioStats, Backoffs]:
    stats = ScenarioStats.for_load(scenario.load)
    backoffs = Backoffs()
    assert not drive(scenario, lambda: engine, stats, signals=(), backoffs=backoffs)
    return stats, backoffs


def _lean(scenario: Scenario) -> Scenario:
    """The closed model's own loop (nothing per user), not a flow."""
    return dataclasses.replace(scenario, cookies=False, max_redirects=0)


@pytest.mark.parametrize("shape", [lambda s: s, _lean], ids=["flow", "closed"])
def test_a_user_whose_target_died_waits_longer_and_longer_between_connects(
    shape: Callable[[Scenario], Scenario],
) -> None:
    engine = ScriptedEngine(first(2, Outcome(), REFUSED))
    scenario = shape(scripted_scenario(LoadSpec(users=1, duration=1.0)))
    stats, backoffs = _drive(scenario, engine)

    refused = stats.overall.errors["connect_refused"]
    # 3 at once, then after 50, 100, 200, 400 ms (at 0.75 s); the next wait (800 ms)
    # ends at the deadline. Without the back-off: thousands.
    assert stats.overall.succeeded == 2
    assert 4 <= refused <= 7
    assert refused - 3 <= backoffs.waits <= refused - 2
    assert backoffs.seconds <= 1.0


@pytest.mark.parametrize("shape", [lambda s: s, _lean], ids=["flow", "closed"])
def test_a_response_resets_the_wait(shape: Callable[[Scenario], Scenario]) -> None:
    engine = ScriptedEngine(cycle(REFUSED, REFUSED, REFUSED, Outcome()))
    scenario = shape(scripted_scenario(LoadSpec(users=1, requests_per_user=12)))
    stats, backoffs = _drive(scenario, engine)

    assert stats.overall.total == 12
    # One 50 ms wait after each third refusal; reset by the answer that follows, it never
    # grows to 100 ms.
    assert backoffs.waits == 3
    assert backoffs.seconds == pytest.approx(0.15)
