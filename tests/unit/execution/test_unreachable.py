"""Giving up on an unreachable target, through `drive` on a scripted engine.

The first check comes `unreachable_after` seconds into the load (3 s in production) and
repeats every `unreachable_every` (0.5 s) until a request reaches the target; here both
are scaled down so the tests take a fraction of a second. A target that drops connects
answers nothing before its connect timeouts come in, after the first check.
"""

from __future__ import annotations

import time

import pytest

from perfrun.execution.drive import drive, unreachable
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadModel, LoadSpec
from tests.support.scripted import Outcome, ScriptedEngine, fails, first, scripted_scenario

AFTER = 0.1
EVERY = 0.02
LONG = 3.0
"""A load's length that the tests must not wait for."""


def run(load: LoadSpec, engine: ScriptedEngine) -> tuple[ScenarioStats, float]:
    stats = ScenarioStats.for_load(load)
    started = time.perf_counter()
    interrupted = drive(
        scripted_scenario(load),
        lambda: engine,
        stats,
        signals=(),
        unreachable_after=AFTER,
        unreachable_every=EVERY,
    )
    elapsed = time.perf_counter() - started
    assert not interrupted  # giving up is not an interruption: the runner says unreachable
    assert engine.closed
    assert engine.sessions_closed == engine.sessions_opened
    return stats, elapsed


LOADS = [
    pytest.param(LoadSpec(users=2, duration=LONG), id="closed"),
    pytest.param(LoadSpec(model=LoadModel.OPEN, rate=50, duration=LONG), id="open"),
]


@pytest.mark.parametrize("load", LOADS)
@pytest.mark.parametrize("kind", [ErrorKind.CONNECT_TIMEOUT, ErrorKind.CONNECT_REFUSED])
def test_connect_failures_arriving_after_the_first_check_end_the_load_at_a_later_one(
    load: LoadSpec, kind: ErrorKind
) -> None:
    # Nothing has completed at the first check (100 ms): the first failures arrive at 150 ms.
    engine = ScriptedEngine(fails(kind, latency=0.15))
    stats, elapsed = run(load, engine)

    assert unreachable(stats)
    assert 0.15 <= elapsed < LONG / 2, elapsed  # ~0.16 s: the next check after 150 ms
    assert set(stats.overall.errors) == {kind.value}
    assert stats.schedule_end is None  # the schedule did not run to its end


def test_connect_failures_before_the_first_check_end_the_load_at_it() -> None:
    engine = ScriptedEngine(fails(ErrorKind.CONNECT_REFUSED))
    stats, elapsed = run(LoadSpec(users=2, duration=LONG, think_time=0.01), engine)

    assert unreachable(stats)
    assert AFTER <= elapsed < LONG / 2, elapsed
    assert stats.overall.total == stats.overall.errors["connect_refused"] > 0


def test_one_success_keeps_the_load_going_whatever_fails_after() -> None:
    engine = ScriptedEngine(first(1, Outcome(), fails(ErrorKind.CONNECT_REFUSED)))
    stats, elapsed = run(LoadSpec(users=1, duration=0.2, think_time=0.01), engine)

    assert not unreachable(stats)
    assert elapsed >= 0.2
    assert stats.overall.succeeded == 1
    assert set(stats.overall.errors) == {"connect_refused"}


def test_a_failure_after_connecting_keeps_the_load_going() -> None:
    # A read timeout means the target took the connection: it is there, just slow.
    engine = ScriptedEngine(first(1, fails(ErrorKind.TIMEOUT), fails(ErrorKind.CONNECT_REFUSED)))
    stats, elapsed = run(LoadSpec(users=1, duration=0.2, think_time=0.01), engine)

    assert not unreachable(stats)
    assert elapsed >= 0.2


def _result(error: ErrorKind | None, at: float) -> RequestResult:
    return RequestResult("get", at, 0.001, 0 if error else 200, 0, error)


C, R, T, S = ErrorKind.CONNECT_REFUSED, ErrorKind.CONNECT_TIMEOUT, ErrorKind.TIMEOUT, None


@pytest.mark.parametrize(
    ("warmup", "measured", "expected"),
    [
        ([], [], False),  # nothing sent yet
        ([], [C, R], True),
        ([C], [], True),  # warm-up requests count as sent
        ([C], [R, ErrorKind.CONNECT_ERROR], True),
        ([C], [C, S], False),
        ([S], [C], False),
        ([], [C, T], False),
        ([], [C, ErrorKind.HTTP_5XX], False),
    ],
)
def test_unreachable_means_requests_were_sent_and_not_one_could_connect(
    warmup: list[ErrorKind | None], measured: list[ErrorKind | None], expected: bool
) -> None:
    stats = ScenarioStats(origin=0.0, warmup=1.0)
    for error in warmup:
        stats.record(_result(error, 0.5))
    for error in measured:
        stats.record(_result(error, 1.5))
    assert unreachable(stats) is expected
