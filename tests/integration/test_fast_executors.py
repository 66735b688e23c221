"""The fast engine runs the load models itself, as callbacks on its connections: the same
rules as the coroutine executors (tests/unit/engine/test_executors.py), checked here
against tests/servers/target.py through `drive`, which is what production calls.

Bounds hold on a busy machine: a server delay is a floor, never a ceiling, and no test
asserts that anything happens fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfrun.engine.factory import EngineRecipe
from perfrun.engine.fast import FastEngine
from perfrun.engine.open import LATE_AFTER
from perfrun.engine.share import Share
from perfrun.execution.drive import drive
from perfrun.metrics.result import ErrorKind
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import (
    EngineChoice,
    LoadModel,
    LoadSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
)
from tests.servers.launch import TargetProcess, start_target
from tests.support.recording import BrokenStats, RecordingStats

GET = RequestSpec(name="get")
HEAVY = RequestSpec(name="heavy", path="/heavy", weight=3)
LIGHT = RequestSpec(name="light", path="/light", weight=1)


@pytest.fixture(scope="module")
def fast_target() -> Iterator[TargetProcess]:
    with start_target() as target:
        yield target


@pytest.fixture(scope="module")
def slow_target() -> Iterator[TargetProcess]:
    with start_target("--delay-ms", "50") as target:
        yield target


def run(
    url: str, load: LoadSpec, *requests: RequestSpec, share: Share = Share.WHOLE
) -> ScenarioStats:
    """Drive the load on the fast engine; the stats."""
    requests = requests or (GET,)
    scenario = Scenario("fast", ScenarioType.LOAD, Severity.LOW, url, requests, load,
                        engine=EngineChoice.FAST)  # fmt: skip
    stats = ScenarioStats.for_load(load)
    recipe = EngineRecipe(FastEngine.name, url, load.timeout, requests)
    assert not drive(scenario, recipe, stats, share=share, signals=())
    return stats


def test_fast_closed_model_sends_users_times_requests_per_user(fast_target: TargetProcess) -> None:
    stats = run(fast_target.url, LoadSpec(users=7, requests_per_user=13))

    assert stats.overall.total == stats.overall.succeeded == 91


def test_fast_closed_model_weighted_mix_follows_the_weights(fast_target: TargetProcess) -> None:
    stats = run(fast_target.url, LoadSpec(users=10, requests_per_user=400), HEAVY, LIGHT)

    heavy, light = stats.endpoints["heavy"].total, stats.endpoints["light"].total
    assert heavy + light == 4000
    assert 0.70 < heavy / 4000 < 0.80  # weight 3 of 4; 4000 draws: 0.75 ± 0.03 at 4 sigma


def test_fast_closed_model_failures_never_stop_a_user(refused_url: str) -> None:
    stats = run(refused_url, LoadSpec(users=3, requests_per_user=5, timeout=2.0))

    assert stats.overall.failed == 15
    assert stats.overall.errors == {ErrorKind.CONNECT_REFUSED.value: 15}


def test_fast_closed_model_reopens_connections_the_server_closes() -> None:
    with start_target("--close-after", "2") as target:
        stats = run(target.url, LoadSpec(users=4, requests_per_user=9))

    assert stats.overall.total == stats.overall.succeeded == 36


def test_fast_closed_model_reopens_after_its_own_connection_close() -> None:
    close = RequestSpec(name="close", headers={"Connection": "close"})
    with start_target("--arrival-stats") as target:
        stats = run(target.url, LoadSpec(users=3, requests_per_user=4), close)
        target.stop()
        assert "REQUESTS 12" in target.stderr_text()

    assert stats.overall.succeeded == 12


def test_fast_closed_model_duration_ends_users_and_counts_requests_in_flight(
    slow_target: TargetProcess,
) -> None:
    duration = 0.3
    stats = run(slow_target.url, LoadSpec(users=4, duration=duration))

    # Each response takes at least 50 ms, so a user sends at most duration / 50 ms + 1,
    # and the last one, sent before the deadline, completes after it and counts.
    assert 4 <= stats.overall.succeeded <= 4 * (int(duration / 0.05) + 1)
    assert stats.last_end is not None and stats.last_end >= stats.origin + duration


def test_fast_closed_model_ramp_up_and_think_time_space_the_requests(
    fast_target: TargetProcess,
) -> None:
    started = time.perf_counter()
    stats = run(fast_target.url, LoadSpec(users=2, requests_per_user=3, think_time=0.1,
                                          ramp_up=0.4))  # fmt: skip
    elapsed = time.perf_counter() - started

    assert stats.overall.succeeded == 6
    # The second user starts 0.2 s in and thinks twice (not after its last request).
    assert elapsed >= 0.2 + 2 * 0.1


def test_fast_closed_model_share_runs_every_nth_user(fast_target: TargetProcess) -> None:
    stats = run(fast_target.url, LoadSpec(users=7, requests_per_user=5), share=Share(1, 3))

    assert stats.overall.succeeded == 2 * 5  # users 1 and 4


def test_fast_open_model_sends_every_request_due_never_early(fast_target: TargetProcess) -> None:
    load = LoadSpec(model=LoadModel.OPEN, rate=200, duration=1.0)
    stats = RecordingStats.for_load(load)
    results, counts = stats.results, stats.schedule

    async def go() -> float:
        engine = FastEngine(fast_target.url, 5.0, (GET,))
        start = time.perf_counter() + 0.05
        try:
            await engine.run_open(load, (GET,), stats, start=start)
        finally:
            await engine.aclose()
        return start

    start = asyncio.run(go())

    assert counts.due == counts.sent == len(results) == 200
    assert counts.dropped == counts.capped == 0
    sent = sorted(r.started for r in results)
    assert all(sent[i] >= start + i / 200 for i in range(200))  # none before its time
    assert all(r.ok for r in results)


def test_fast_open_model_counts_what_it_sent_late_itself_as_its_own(
    fast_target: TargetProcess,
) -> None:
    # 1,000/s for 0.4 s with 1,000 slots: never at the cap. A callback hogs the loop for
    # 100 ms, as a saturated generator's do: the requests due in its first 90 ms (or more,
    # wherever a busy machine puts it) go out over 10 ms late, with a slot free all along:
    # perfrun's own lateness, the saturation guard's evidence, not the target's.
    load = LoadSpec(model=LoadModel.OPEN, rate=1000, duration=0.4, max_in_flight=1000)
    stats = RecordingStats.for_load(load)
    counts = stats.schedule

    async def go() -> None:
        engine = FastEngine(fast_target.url, 5.0, (GET,))
        asyncio.get_running_loop().call_later(0.15, time.sleep, 0.1)
        try:
            await engine.run_open(load, (GET,), stats, start=time.perf_counter() + 0.05)
        finally:
            await engine.aclose()

    asyncio.run(go())

    assert counts.due == counts.sent == len(stats.results) == 400
    assert counts.capped == counts.dropped == 0
    assert 89 <= counts.late_own == counts.late <= counts.sent
    went_out_late = sum(1 for r in stats.results if r.queued > LATE_AFTER)
    assert counts.late == went_out_late


def test_fast_open_model_at_the_cap_sends_late_and_drops_the_rest(
    slow_target: TargetProcess,
) -> None:
    load = LoadSpec(model=LoadModel.OPEN, rate=100, duration=0.5, max_in_flight=2)
    stats = run(slow_target.url, load)
    counts = stats.schedule

    # 2 slots, each held at least 50 ms: at most 2 * (0.5 / 0.05 + 1) go out of 50 due.
    assert counts.due == 50
    assert counts.sent + counts.dropped == 50
    assert 2 <= counts.sent <= 22
    # All sent but the first two waited for a slot, and so did the one left waiting.
    assert counts.capped == counts.sent - 2 + 1
    assert counts.sent - 2 <= counts.late <= counts.sent
    assert stats.overall.total == counts.sent


def test_fast_open_model_drops_what_still_waits_for_a_slot_when_the_schedule_ends() -> None:
    # 20/s for 300 ms: due at 0, 50, …, 250 ms. 2 slots, held >= 400 ms: the first two go
    # out, the 3rd waits for a slot until the end, then it and the 3 after it are dropped.
    load = LoadSpec(model=LoadModel.OPEN, rate=20, duration=0.3, max_in_flight=2)
    with start_target("--delay-ms", "400") as target:
        stats = run(target.url, load)

    counts = stats.schedule
    assert (counts.due, counts.sent, counts.capped, counts.dropped) == (6, 2, 1, 4)
    assert stats.overall.total == stats.overall.succeeded == 2


def test_fast_open_model_queues_for_a_free_connection_past_max_connecting(
    fast_target: TargetProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One connect at a time and 8 in flight at most: at 2,000/s a due request often finds
    # no idle connection and a connect under way, so it queues for the next one to come
    # free. Every request queued must still count as in flight exactly once, or the cap
    # fills with requests that ended and the run never ends (bounded here at 60 s).
    monkeypatch.setattr("perfrun.engine.fast_open.MAX_CONNECTING", 1)
    load = LoadSpec(model=LoadModel.OPEN, rate=2000, duration=0.5, max_in_flight=8)
    stats = ScenarioStats.for_load(load)

    async def go() -> None:
        engine = FastEngine(fast_target.url, 5.0, (GET,))
        try:
            start = time.perf_counter()
            await asyncio.wait_for(engine.run_open(load, (GET,), stats, start=start), 60)
        finally:
            await engine.aclose()

    asyncio.run(go())

    counts = stats.schedule
    assert counts.due == 1000
    assert counts.sent + counts.dropped == 1000
    assert stats.overall.total == stats.overall.succeeded == counts.sent > 0


def test_a_bug_in_a_callback_surfaces_from_the_fast_closed_model(
    fast_target: TargetProcess,
) -> None:
    async def go() -> None:
        engine = FastEngine(fast_target.url, 5.0, (GET,))
        try:
            load = LoadSpec(users=2, requests_per_user=3)
            broken = BrokenStats.for_load(load)
            await engine.run_closed(load, (GET,), broken, start=time.perf_counter())
        finally:
            await engine.aclose()

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(go())


def test_a_bug_in_a_callback_surfaces_from_the_fast_open_model(
    fast_target: TargetProcess,
) -> None:
    async def go() -> None:
        engine = FastEngine(fast_target.url, 5.0, (GET,))
        load = LoadSpec(model=LoadModel.OPEN, rate=100, duration=1.0)
        try:
            broken = BrokenStats.for_load(load)
            await engine.run_open(load, (GET,), broken, start=time.perf_counter())
        finally:
            await engine.aclose()

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(go())


@pytest.mark.parametrize(
    "load",
    [
        LoadSpec(users=4, requests_per_user=25),
        LoadSpec(model=LoadModel.OPEN, rate=50.0, duration=1.0, max_in_flight=8),
    ],
    ids=["closed", "open"],
)
def test_fast_models_time_every_requests_phases(slow_target: TargetProcess, load: LoadSpec) -> None:
    """Every success's wait and receive are recorded (the server's 50 ms in the wait),
    and one connect per connection opened: the target keeps every connection open."""
    stats = run(slow_target.url, load)

    endpoint = stats.endpoints["get"]
    phases = endpoint.phases
    assert endpoint.succeeded == endpoint.total > 0
    assert phases.wait.total == phases.receive.total == endpoint.succeeded
    wait, receive = phases.wait.summary_ms(), phases.receive.summary_ms()
    assert wait["min"] is not None and wait["min"] >= 50.0
    assert receive["max"] is not None and receive["max"] < wait["min"]
    connections = load.users if load.model is LoadModel.CLOSED else load.max_in_flight
    assert connections is not None and 1 <= phases.connect.total <= connections
    if load.model is LoadModel.CLOSED:
        assert phases.connect.total == load.users


def test_a_bug_met_on_a_timer_surfaces_from_a_fast_flow(
    fast_target: TargetProcess, tmp_path: Path
) -> None:
    """A flow's first step goes out from a timer (its user's start), not from a
    response's callback: a bug met there (here: recording a step that could not be
    sent) surfaces from the run too, instead of leaving the run waiting for ever."""
    (tmp_path / "rows.csv").write_text('v\n"a\nb"\n')
    (tmp_path / "flow.yaml").write_text(
        "scenarios:\n  f:\n    type: load\n    severity: low\n"
        f"    base_url: {fast_target.url}\n    data: {{file: rows.csv}}\n"
        "    flow: [{name: s, path: /, headers: {X-V: '{{ v }}'}}]\n"
        "    load: {users: 1, iterations: 2}\n"
    )
    (scenario,) = load_file(tmp_path / "flow.yaml", {})

    async def go() -> None:
        engine = FastEngine(fast_target.url, 5.0, scenario.requests)
        try:
            broken = BrokenStats.for_load(scenario.load)
            start = time.perf_counter() + 0.2  # the user starts from a timer
            run = engine.run_flow(scenario.load, scenario.requests, scenario.data, broken,
                                  start=start)  # fmt: skip
            await asyncio.wait_for(run, 20)
        finally:
            await engine.aclose()

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(go())
