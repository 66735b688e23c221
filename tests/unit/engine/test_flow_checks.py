"""A flow step on the fast engine's callbacks: a response that passes its checks is
recorded as a success (on the hot path of a one-step flow too), one that fails them as
`check_failed`, and every iteration goes on; each request carries the user's cookies
as they are now. Pure: a fake transport, responses fed by hand, as the loop would."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from perfrun.engine import fast_flow
from perfrun.engine.fast import FastEngine
from perfrun.engine.fast_flow import StepPlan
from perfrun.engine.fast_wire import WatchingConnection, WatchingFullConnection
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.loader import load_file
from tests.support.transport import FakeTransport

SCENARIO = """
scenarios:
  checked:
    type: load
    severity: low
    base_url: http://127.0.0.1:80
    flow: [%s]
    load: {users: 1, iterations: %d}
"""


def _response(body: bytes, status: int = 200) -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


async def _run(
    tmp_path: Path, step: str, responses: list[bytes], sent: list[bytes] | None = None,
    users: list[fast_flow.FlowUser] | None = None,
) -> ScenarioStats:  # fmt: skip
    """One user runs a one-step flow for len(responses) iterations, answered in turn;
    the requests written go into `sent`, the user into `users`."""
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO % (step, len(responses)))
    (scenario,) = load_file(path, {})
    engine = FastEngine("http://127.0.0.1:80", 10.0, scenario.requests)
    plans = [StepPlan(engine.prepared[s.name], engine.host_header, "") for s in scenario.requests]
    headers = any(plan.keep_headers for plan in plans)
    engine.dialer.kind = WatchingFullConnection if headers else WatchingConnection
    stats = ScenarioStats.for_load(scenario.load)
    flows = fast_flow.Flows(
        engine.dialer, plans, stats, scenario.load, None, engine.origin, "", True, 10
    )
    user = fast_flow.FlowUser(flows, 0, random.Random(1), None)
    conn = engine.dialer.kind()
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    user.conn = conn
    try:
        user.resume_at(time.perf_counter())
        for answered, response in enumerate(responses, 1):
            assert len(transport.written) == answered  # the next request went out
            conn.data_received(response)
        flows.check()
    finally:
        transport.close()
    if sent is not None:
        sent += transport.written
    if users is not None:
        users.append(user)
    return stats


@pytest.mark.parametrize(
    "step",
    [
        "{name: r, path: /, expect_json: {ok: true}}",
        "{name: r, path: /, expect_json: {ok: true}, capture: {v: {json: n}}}",
        "{name: r, path: /, expect_body_contains: 'true'}",
    ],
)
def test_a_checked_step_records_passes_as_successes_and_failures_as_check_failed(
    tmp_path: Path, step: str
) -> None:
    passing = _response(b'{"ok": true, "n": 1}')
    failing = _response(b'{"ok": false, "n": 2}')
    unexpected = _response(b'{"ok": true, "n": 3}', 500)
    responses = [passing, failing, passing, passing, unexpected, failing, passing]
    stats = asyncio.run(_run(tmp_path, step, responses))
    overall = stats.overall
    assert (overall.succeeded, overall.failed) == (4, 3)
    assert dict(overall.errors) == {"check_failed": 2, "http_5xx": 1}
    assert overall.latency.total == 4
    assert overall.phases.wait.total == overall.phases.receive.total == 7


def test_each_request_carries_the_users_cookie_as_it_is_now(tmp_path: Path) -> None:
    """A static step's bytes with the Cookie header are kept per user and step, and built
    again when the cookie changes."""

    def setting(cookie: bytes) -> bytes:
        return b"HTTP/1.1 200 X\r\nSet-Cookie: %s\r\nContent-Length: 0\r\n\r\n" % cookie

    plain = _response(b"")
    responses = [setting(b"s=1"), plain, plain, setting(b"s=2; Path=/"), plain, plain]
    sent: list[bytes] = []
    users: list[fast_flow.FlowUser] = []
    stats = asyncio.run(_run(tmp_path, "{name: r, path: /}", responses, sent, users))
    assert stats.overall.succeeded == 6
    assert [cookie for cookie, _ in users[0].cookied.values()] == ["s=2"]  # kept, per step
    cookies = [
        next((line for line in request.split(b"\r\n") if line.startswith(b"Cookie:")), None)
        for request in sent
    ]
    assert cookies == [None, b"Cookie: s=1", b"Cookie: s=1", b"Cookie: s=1", b"Cookie: s=2",
                       b"Cookie: s=2"]  # fmt: skip


def test_a_large_request_with_a_cookie_is_built_each_time_not_kept(tmp_path: Path) -> None:
    """Requests up to COOKIED_MAX bytes are kept with the user's Cookie header; a larger
    one (a big body) is built again each time, so users do not each hold a copy."""
    body = "x" * fast_flow.COOKIED_MAX
    step = f"{{name: r, path: /, method: POST, body: {body}}}"
    setting = b"HTTP/1.1 200 X\r\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n"
    sent: list[bytes] = []
    users: list[fast_flow.FlowUser] = []
    asyncio.run(_run(tmp_path, step, [setting] + [_response(b"")] * 3, sent, users))
    assert [request.count(b"\r\nCookie: s=1\r\n") for request in sent] == [0, 1, 1, 1]
    assert all(request.endswith(body.encode()) for request in sent)
    assert users[0].cookied == {}
