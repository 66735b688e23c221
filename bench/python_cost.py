"""Python's share of a request: the fast engine's closed-model cycle without the kernel.

One virtual user on a fake transport: every request written is answered at once with a
canned nginx response, fed to the connection as the loop would, so only perfrun's own
per-request work is timed (parsing, recording, the next request), not the loopback.
Prints the CPU time per request, median of --rounds. For comparing changes to the hot
path: interleave runs of two checkouts (`PYTHONPATH=... python bench/python_cost.py`),
since a VM's speed drifts from minute to minute. `--shape` picks the request: a mix of
one (the closed model's callbacks), a one-step flow, or a flow step with a templated
path and a JSON capture, or with only one of the two (flows keep cookies and follow
redirects, as by default). Under `valgrind --tool=cachegrind`, the difference of two
runs' instruction counts over their difference in --requests is a figure that does not
drift with the VM.

`--response` picks what the fake server answers: nginx's 11-byte JSON, the same with a
Set-Cookie (the same one every time, as a load balancer's stickiness cookie), a
64 kB JSON body, or two heads in turn that differ in an X-Request-Id. A head the same
as the last one parsed on the connection is not parsed again (docs/architecture.md):
`request-id` is the shape of a service that stamps every response, every head parsed.

    python bench/python_cost.py [--requests 300000] [--rounds 5] [--shape mix]
        [--response nginx|set-cookie|64k|request-id]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from perfrun.engine import fast_closed, fast_flow
from perfrun.engine.fast import FastEngine
from perfrun.engine.fast_flow import StepPlan
from perfrun.engine.fast_wire import WatchingConnection
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import LoadSpec, RequestSpec

_HEAD = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Tue, 01 Dec 2026 06:00:00 GMT\r\n"
    b"Content-Type: application/json\r\n%sContent-Length: %d\r\nConnection: keep-alive\r\n\r\n"
)
_ROW = b'{"id":12345,"name":"some name","tags":["a","b"]}'
_BIG = b'{"ok":true,"rows":[%s]}' % b",".join([_ROW] * 1300)
_ID = b"X-Request-Id: %032x\r\n"
RESPONSES = {
    "nginx": (_HEAD % (b"", 11) + b'{"ok":true}',),
    "set-cookie": (_HEAD % (b"Set-Cookie: AWSALB=a1b2c3d4e5; Expires=Tue, 08 Dec 2026 06:00:00 GMT;"
                            b" Path=/\r\n", 11) + b'{"ok":true}',),
    "64k": (_HEAD % (b"", len(_BIG)) + _BIG,),
    "request-id": tuple(_HEAD % (_ID % n, 11) + b'{"ok":true}' for n in (1, 2)),
}  # fmt: skip
"""The responses the fake server answers in turn."""


class _Socket:
    """What Connection.connection_made asks of a transport's socket: a real descriptor."""

    def __init__(self) -> None:
        self._pair = socket.socketpair()

    def fileno(self) -> int:
        return self._pair[0].fileno()


class _Transport:
    """Counts the requests written; answers nothing itself (see `cycle`)."""

    def __init__(self) -> None:
        self.pending = 0
        self._socket = _Socket()

    def write(self, data: bytes) -> None:
        self.pending += 1

    def get_extra_info(self, name: str) -> Any:
        return self._socket

    def close(self) -> None:
        pass


FLOW = """
scenarios:
  cost:
    type: load
    severity: low
    base_url: http://127.0.0.1:80
    flow: [%s]
    load: {users: 1, iterations: %d}
"""
SHAPES = {
    "mix": "",
    "flow": "{name: root, path: /}",
    "flow-template-capture": "{name: root, path: '/x/{{ $iteration }}', capture: {v: {json: ok}}}",
    "flow-template": "{name: root, path: '/x/{{ $iteration }}'}",
    "flow-capture": "{name: root, path: '/x', capture: {v: {json: ok}}}",
    "flow-check": "{name: root, path: '/x', expect_json: {ok: true}}",
}


async def cycle(
    requests: int, shape: str, responses: tuple[bytes, ...] = RESPONSES["nginx"]
) -> float:
    """CPU seconds per request for `requests` requests of one user."""
    if shape == "mix":
        spec = RequestSpec(name="root")
        engine = FastEngine("http://127.0.0.1:80", 10.0, (spec,))
        load = LoadSpec(users=1, requests_per_user=requests)
        stats = ScenarioStats.for_load(load)
        crowd = fast_closed._Crowd(engine.dialer, engine._mix((spec,), stats), stats, 0.0)
        user: Any = fast_closed._User(crowd, random.Random(1), requests, None)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cost.yaml"
            path.write_text(FLOW % (SHAPES[shape], requests))
            (scenario,) = load_file(path, {})
        engine = FastEngine("http://127.0.0.1:80", 10.0, scenario.requests)
        engine.dialer.kind = WatchingConnection  # cookies and redirects, as by default
        stats = ScenarioStats.for_load(scenario.load)
        prepared = [engine.prepared[spec.name] for spec in scenario.requests]
        plans = [StepPlan(p, engine.host_header, "") for p in prepared]
        flows = fast_flow.Flows(
            engine.dialer, plans, stats, scenario.load, None, engine.origin, "", True, 10
        )
        user = fast_flow.FlowUser(flows, 0, random.Random(1), None)
    conn = engine.dialer.kind()
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    user.conn = conn
    if shape == "mix":
        user.next(time.perf_counter())
    else:
        user.resume_at(time.perf_counter())
    began = time.process_time()
    if len(responses) == 1:  # no turns to take: the harness's cost as before
        (response,) = responses
        while transport.pending:
            transport.pending -= 1
            conn.data_received(response)
    else:
        turn, count = 0, len(responses)
        while transport.pending:
            transport.pending -= 1
            conn.data_received(responses[turn])
            turn = (turn + 1) % count
    spent = time.process_time() - began
    if stats.overall.succeeded != requests:
        raise SystemExit(f"{stats.overall.total} requests recorded, {requests} expected")
    return spent / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shape", choices=SHAPES, default="mix")
    parser.add_argument("--response", choices=RESPONSES, default="nginx")
    options = parser.parse_args()
    runs = [
        asyncio.run(cycle(options.requests, options.shape, RESPONSES[options.response]))
        for _ in range(options.rounds)
    ]
    shown = " ".join(f"{1e9 * r:.0f}" for r in runs)
    print(f"{1e9 * statistics.median(runs):.0f} ns per request (median; rounds: {shown})")


if __name__ == "__main__":
    main()
