"""The closed and open executors' counting, through `drive` (what production calls) on a
scripted engine: no sockets, exact numbers.

Timing bounds hold on a busy machine: a scripted latency is never shorter than scripted
(`sleep_until`), so "at most" bounds are exact, and a stall of the machine only makes
things later; no test asserts that anything happens fast.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from perfrun.engine.share import Share
from perfrun.execution.drive import drive
from perfrun.metrics.result import ErrorKind
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadModel, LoadSpec, RequestSpec, Stage
from tests.support.scripted import Outcome, ScriptedEngine, cycle, fails, scripted_scenario

HEAVY = RequestSpec(name="heavy", path="/heavy", weight=3)
LIGHT = RequestSpec(name="light", path="/light", weight=1)


def run(
    load: LoadSpec,
    engine: ScriptedEngine,
    *requests: RequestSpec,
    share: Share = Share.WHOLE,
) -> tuple[ScenarioStats, float]:
    """Drive the load on `engine`; the stats and the seconds the load took."""
    stats = ScenarioStats.for_load(load)
    started = time.perf_counter()
    interrupted = drive(
        scripted_scenario(load, *requests), lambda: engine, stats, share=share, signals=()
    )
    elapsed = time.perf_counter() - started
    assert not interrupted
    assert engine.closed
    assert engine.sessions_closed == engine.sessions_opened  # no connection left open
    assert engine.early == 0  # no request went out before its intended time
    return stats, elapsed


def open_load(
    rate: float, duration: float, *, max_in_flight: int = 1000, warmup: float = 0.0
) -> LoadSpec:
    return LoadSpec(
        model=LoadModel.OPEN,
        rate=rate,
        duration=duration,
        max_in_flight=max_in_flight,
        warmup=warmup,
    )


# --- closed model -----------------------------------------------------------------------------


def test_closed_model_sends_users_times_requests_per_user_each_user_on_its_own_session() -> None:
    engine = ScriptedEngine()
    stats, _ = run(LoadSpec(users=7, requests_per_user=13), engine)

    assert stats.overall.total == stats.overall.succeeded == 91
    assert engine.asked == engine.answered == 91
    assert [len(s.sent_at) for s in engine.sessions] == [13] * 7
    assert engine.peak_sessions == 7  # all users at once: no ramp-up
    assert engine.peak_in_flight <= 7  # one request per user at a time
    assert engine.cancelled == 0


def test_closed_model_weighted_mix_sends_each_request_in_proportion_to_its_weight() -> None:
    engine = ScriptedEngine()
    stats, _ = run(LoadSpec(users=10, requests_per_user=400), engine, HEAVY, LIGHT)

    heavy, light = engine.paths["/heavy"], engine.paths["/light"]
    assert heavy + light == 4000
    # What the engine was asked is what the stats counted, endpoint by endpoint.
    assert stats.endpoints["heavy"].total == heavy
    assert stats.endpoints["light"].total == light
    # 3:1 over 4000 draws: the share of heavy has a standard deviation of 0.0068, so
    # ±0.04 is 5.8 sigma (failing odds ~1e-8).
    assert heavy / 4000 == pytest.approx(0.75, abs=0.04)


def test_closed_model_counts_every_failure_by_kind_and_failures_never_stop_a_user() -> None:
    script = cycle(
        Outcome(),
        Outcome(status=503),
        Outcome(status=404),
        Outcome(status=302),
        fails(ErrorKind.TIMEOUT),
        fails(ErrorKind.RESET),
    )
    engine = ScriptedEngine(script)
    stats, _ = run(LoadSpec(users=4, requests_per_user=12), engine)

    overall = stats.overall
    assert overall.total == 48
    assert overall.succeeded == 8
    assert overall.errors == Counter(
        {"http_5xx": 8, "http_4xx": 8, "unexpected_status": 8, "timeout": 8, "reset": 8}
    )
    assert set(stats.error_samples) == set(overall.errors)


def test_closed_model_expect_status_decides_what_succeeds() -> None:
    accepting = RequestSpec(name="get", expect_status=(200, 404))
    engine = ScriptedEngine(cycle(Outcome(), Outcome(status=404), Outcome(status=500)))
    stats, _ = run(LoadSpec(users=3, requests_per_user=3), engine, accepting)

    assert stats.overall.succeeded == 6
    assert stats.overall.errors == Counter({"http_5xx": 3})


def test_closed_model_duration_stops_users_at_the_deadline_and_counts_the_last_request() -> None:
    # Each request takes at least 30 ms and a user only sends before the 200 ms deadline:
    # at 0, 30, …, 180 ms at the latest, so at most 7 requests per user.
    engine = ScriptedEngine(Outcome(latency=0.03))
    stats, elapsed = run(LoadSpec(users=3, duration=0.2), engine)

    assert elapsed >= 0.2  # users stop only once the deadline has passed
    assert engine.cancelled == 0  # the request in flight at the deadline completes …
    assert stats.overall.total == engine.asked == engine.answered  # … and counts
    sent = [len(s.sent_at) for s in engine.sessions]
    assert len(sent) == 3
    assert all(1 <= n <= 7 for n in sent), sent


def test_closed_model_think_time_separates_a_users_requests() -> None:
    engine = ScriptedEngine()
    stats, _ = run(LoadSpec(users=2, requests_per_user=4, think_time=0.02), engine)

    assert stats.overall.total == 8
    for session in engine.sessions:
        assert len(session.sent_at) == 4
        gaps = [b - a for a, b in zip(session.sent_at, session.sent_at[1:], strict=False)]
        assert min(gaps) >= 0.019, gaps  # asyncio.sleep may wake ~1 ms early under uvloop


def test_closed_model_stages_never_run_more_users_than_the_profile_and_finish_requests() -> None:
    # 0 -> 4 users over 50 ms, 4 for 150 ms, 4 -> 0 over 50 ms. The profile, rounded half
    # up, reads 4 for 170 ms, over three of the executor's 50 ms ticks.
    stages = (Stage(0.05, 4), Stage(0.15, 4), Stage(0.05, 0))
    engine = ScriptedEngine(Outcome(latency=0.01))
    stats, elapsed = run(LoadSpec(stages=stages), engine)

    assert elapsed >= 0.25
    assert engine.peak_sessions == 4  # the users bound, reached and never exceeded
    assert engine.peak_in_flight <= 4
    assert engine.cancelled == 0  # a leaving user finishes its request
    assert stats.overall.total == engine.asked == engine.answered > 0


def test_a_workers_share_runs_every_nth_user() -> None:
    engine = ScriptedEngine()
    stats, _ = run(LoadSpec(users=7, requests_per_user=5), engine, share=Share(1, 3))

    assert engine.sessions_opened == 2  # users 1 and 4 of 0..6
    assert stats.overall.total == 10


# --- open model -------------------------------------------------------------------------------


def test_open_model_sends_every_request_due_on_a_short_schedule() -> None:
    # 20/s for 300 ms: due at 0, 50, …, 250 ms, the last 50 ms before the end.
    engine = ScriptedEngine()
    stats, elapsed = run(open_load(20, 0.3), engine)

    counts = stats.schedule
    assert counts.due == counts.sent == 6
    assert (counts.dropped, counts.capped) == (0, 0)
    assert stats.overall.total == engine.asked == engine.answered == 6
    assert stats.schedule_end == pytest.approx(stats.origin + 0.3)
    assert elapsed >= 0.25  # none went out before its time


def test_open_model_at_the_cap_waits_for_a_slot_sends_late_and_drops_the_rest() -> None:
    # 100/s for 250 ms (25 due), 2 slots, 100 ms per request: requests go out in rounds of
    # two at ~0, ~100 and ~200 ms (6 sent on an idle machine, fewer on a busy one); the
    # next round would come after the end, so the rest is dropped.
    engine = ScriptedEngine(Outcome(latency=0.1))
    stats, _ = run(open_load(100, 0.25, max_in_flight=2), engine)

    counts = stats.schedule
    assert counts.due == 25
    assert counts.sent + counts.dropped == counts.due
    assert 2 <= counts.sent <= 6, counts  # each slot is held >= 100 ms: 3 rounds at most
    assert engine.peak_in_flight == 2  # the cap, reached and never exceeded
    assert counts.capped >= 1  # the 3rd, due at 20 ms, found both slots taken
    # Every request after the first two went out when a slot freed, >= 50 ms after its time.
    assert counts.sent - 2 <= counts.late <= counts.sent
    assert stats.overall.total == engine.asked == engine.answered == counts.sent
    assert engine.cancelled == 0


def test_open_model_counts_as_capped_what_came_due_while_it_waited_for_a_slot() -> None:
    # 100/s for 1.2 s, 5 slots, and a server that answers in batches: the first five
    # requests (due at 0-40 ms) all end at 500 ms, every later one 500 ms after it was sent.
    # When a batch ends, five slots free at once: the requests due meanwhile find a slot
    # free, yet they are late because of the cap, not because perfrun fell behind.
    engine = ScriptedEngine(lambda index: Outcome(latency=0.5 - 0.01 * index if index < 5 else 0.5))
    stats, _ = run(open_load(100, 1.2, max_in_flight=5), engine)

    counts = stats.schedule
    assert counts.sent >= 10  # the batch at 500 ms went out
    # All sent but the first five, and the one still waiting for a slot at the end.
    assert counts.capped == counts.sent - 5 + 1
    assert counts.late_own <= 5  # only the first five could be perfrun's own
    assert not counts.late_own > counts.sent - counts.capped


def test_open_model_drops_what_still_waits_for_a_slot_when_the_schedule_ends() -> None:
    # 20/s for 300 ms: due at 0, 50, …, 250 ms. 2 slots, held 400 ms: the first two go out,
    # the 3rd waits for a slot until the end, then it and the 3 after it are dropped.
    engine = ScriptedEngine(Outcome(latency=0.4))
    stats, elapsed = run(open_load(20, 0.3, max_in_flight=2), engine)

    counts = stats.schedule
    assert (counts.due, counts.sent, counts.capped, counts.dropped) == (6, 2, 1, 4)
    assert engine.asked == 2  # the dropped never reached the engine
    assert stats.overall.total == stats.overall.succeeded == 2  # the sent ones completed
    assert elapsed >= 0.4


def test_open_model_warmup_requests_are_reported_apart_by_their_intended_time() -> None:
    # Due at 0, 50, 100 ms (warm-up, 120 ms) and 150, 200, 250 ms (measured); the one due
    # at 100 ms ends after the warm-up, and is still a warm-up request.
    engine = ScriptedEngine(Outcome(latency=0.04))
    stats, _ = run(open_load(20, 0.3, warmup=0.12), engine)

    assert stats.schedule.due == stats.schedule.sent == 6
    assert stats.warmup.total == 3
    assert stats.overall.total == 3
    assert stats.first_start == pytest.approx(stats.origin + 0.15)


def test_a_workers_share_sends_its_part_of_the_schedule() -> None:
    engine = ScriptedEngine()
    stats, _ = run(open_load(20, 0.3), engine, share=Share(1, 2))

    assert stats.schedule.due == stats.schedule.sent == 3  # due at 50, 150, 250 ms
    assert stats.overall.total == 3
    assert stats.first_start == pytest.approx(stats.origin + 0.05)
