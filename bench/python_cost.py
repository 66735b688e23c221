"""Python's share of a request: the fast engine's closed-model cycle without the kernel.

One virtual user on a fake transport: every request written is answered at once with a
canned nginx response, fed to the connection as the loop would, so only perfrun's own
per-request work is timed (parsing, recording, the next request), not the loopback.
Prints the CPU time per request, median of --rounds. For comparing changes to the hot
path: interleave runs of two checkouts (`PYTHONPATH=... python bench/python_cost.py`),
since a VM's speed drifts from minute to minute.

    python bench/python_cost.py [--requests 300000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import time
from typing import Any

from perfrun.engine import fast_closed
from perfrun.engine.fast import FastEngine
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import LoadSpec, RequestSpec

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Tue, 01 Dec 2026 06:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n"
)


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


async def cycle(requests: int) -> float:
    """CPU seconds per request for `requests` requests of one user."""
    spec = RequestSpec(name="root")
    engine = FastEngine("http://127.0.0.1:80", 10.0, (spec,))
    load = LoadSpec(users=1, requests_per_user=requests)
    stats = ScenarioStats.for_load(load)
    conn = engine.dialer.kind()
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    crowd = fast_closed._Crowd(engine.dialer, engine._mix((spec,), stats), stats, 0.0)
    user = fast_closed._User(crowd, random.Random(1), requests, None)
    user.conn = conn
    user.next(time.perf_counter())
    began = time.process_time()
    while transport.pending:
        transport.pending -= 1
        conn.data_received(RESPONSE)
    spent = time.process_time() - began
    if stats.overall.succeeded != requests:
        raise SystemExit(f"{stats.overall.total} requests recorded, {requests} expected")
    return spent / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    runs = [asyncio.run(cycle(options.requests)) for _ in range(options.rounds)]
    shown = " ".join(f"{1e9 * r:.0f}" for r in runs)
    print(f"{1e9 * statistics.median(runs):.0f} ns per request (median; rounds: {shown})")


if __name__ == "__main__":
    main()
