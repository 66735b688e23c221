"""A redirect's body is counted and dropped, in both engines: httpx would read each one it
follows whole into memory (perfrun follows them itself for that)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import psutil
import pytest

import perfrun

BIG = 60 * 1024 * 1024  # past any buffer: kept whole, it shows in the RSS


async def _serve(listener: socket.socket) -> None:
    chunk = b"a" * (1024 * 1024)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.split(b" ")[1].startswith(b"/redir"):
                    writer.write(
                        b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: %d\r\n\r\n" % BIG
                    )
                    for _ in range(BIG // len(chunk)):
                        writer.write(chunk)
                        await writer.drain()
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=listener)
    await server.serve_forever()


@pytest.fixture(scope="module")
def redirecting() -> Iterator[str]:
    """`/redir` answers a 302 to `/ok` with a 60 MB body."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    thread = threading.Thread(target=lambda: asyncio.run(_serve(listener)), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("engine", ["httpx", "fast"])
def test_a_big_redirect_body_is_counted_not_kept(redirecting: str, engine: str) -> None:
    document = {"scenarios": {"r": {
        "base_url": redirecting,
        "requests": [{"path": "/redir"}],
        "load": {"users": 1, "requests_per_user": 2},
        "thresholds": "none",
    }}}  # fmt: skip
    process = psutil.Process()
    peak, done = process.memory_info().rss, threading.Event()
    start = peak

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        report = perfrun.run(document, engine=engine)
    finally:
        done.set()
        sampler.join()
    (r,) = report.scenarios
    assert (r.requests.succeeded, r.requests.redirects) == (2, 2)
    growth = peak - start  # the server's own chunks are 1 MB; the body is 60 MB
    assert growth < 40 * 2**20, f"RSS grew by {growth / 2**20:.0f} MiB"
