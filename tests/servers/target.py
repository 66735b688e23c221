"""A purpose-built HTTP/1.1 target for perfrun's own tests; a script, not a perfrun import.

    python tests/servers/target.py [--delay-ms D] [--fail-every N] [--alloc-mb M]
        [--burn-cpu] [--stall-ms S --stall-every-ms P [--stall-from-first-request]]
        [--close-after N] [--arrival-stats] [--slow-after S --slow-ms D] [--port 0]

Prints `LISTENING http://127.0.0.1:PORT` once bound, serves until SIGTERM / SIGINT.
Every path and method answers `{"ok":true}` with 200, or 500 where `--fail-every` says;
`/health` is always 200 and is not counted by `--fail-every`. With `--arrival-stats` it
writes, when it stops, `REQUESTS N` (every request read, /health included) and
`GAP_SPREAD S` (interquartile range / median of the gaps between successive arrivals:
near 0 for evenly spaced requests, ln 3 / ln 2 = 1.58 for a Poisson stream) to stderr.

Plain asyncio streams (uvloop when importable) and a minimal HTTP/1.1 parser, so every
behaviour is exact and under this file's control: which request fails, when a response is
sent, on which response a connection closes. Requests on one connection are answered in
order, one at a time, the way HTTP/1.1 without pipelining is used by perfrun's clients.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import signal
import socket
import ssl
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

BODY = b'{"ok":true}'
MAX_HEADER_BYTES = 64 * 1024
_REASONS = {200: b"OK", 400: b"Bad Request", 500: b"Internal Server Error"}


@dataclass(frozen=True)
class Options:
    delay_ms: float
    fail_every: int
    alloc_mb: int
    burn_cpu: bool
    stall_ms: float
    stall_every_ms: float
    stall_from_first_request: bool
    close_after: int
    arrival_stats: bool
    slow_after: float
    slow_ms: float
    host: str
    port: int
    cert: str | None
    key: str | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="target.py", description="perfrun's test target")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait D ms before answering")
    parser.add_argument(
        "--fail-every", type=int, default=0, help="request k (1-based) is a 500 when k %% N == 0"
    )
    parser.add_argument("--alloc-mb", type=int, default=0, help="hold M MB of touched memory")
    parser.add_argument(
        "--burn-cpu", action="store_true", help="keep one core busy in a background thread"
    )
    parser.add_argument(
        "--stall-ms",
        type=float,
        default=0.0,
        help="stall S ms every --stall-every-ms: a request arriving in a stall window is "
        "answered at its end (then --delay-ms applies)",
    )
    parser.add_argument("--stall-every-ms", type=float, default=0.0, help="stall period P ms")
    parser.add_argument(
        "--stall-from-first-request",
        action="store_true",
        help="start the stall clock when the first request arrives instead of at start-up, "
        "so the stall windows line up with the start of a load run",
    )
    parser.add_argument(
        "--close-after", type=int, default=0, help="close each connection after N responses"
    )
    parser.add_argument(
        "--arrival-stats",
        action="store_true",
        help="on exit, write `REQUESTS N` (requests read, answered or not) and `GAP_SPREAD S` "
        "(interquartile range / median of the gaps between arrivals) to stderr",
    )
    parser.add_argument(
        "--slow-after",
        type=float,
        default=0.0,
        help="S seconds after the first request, add --slow-ms to every response: a target "
        "that degrades during a run",
    )
    parser.add_argument("--slow-ms", type=float, default=0.0, help="the extra delay D ms")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", help="serve HTTPS with this certificate (PEM) ...")
    parser.add_argument("--key", help="... and this key (PEM)")
    args = parser.parse_args(argv)
    if (args.stall_ms > 0) != (args.stall_every_ms > 0) or args.stall_ms > args.stall_every_ms:
        parser.error("--stall-ms and --stall-every-ms go together, with S <= P")
    if (args.slow_after > 0) != (args.slow_ms > 0):
        parser.error("--slow-after and --slow-ms go together")
    for name in ("delay_ms", "fail_every", "alloc_mb", "close_after", "slow_after", "slow_ms"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    return Options(**vars(args))


def burn_cpu_forever() -> None:
    # hashlib releases the GIL while hashing more than 2 KiB, so this thread keeps a core
    # busy without starving the event loop thread of the GIL (a bare `while True: pass`
    # would add up to 5 ms of GIL hand-over latency to every response).
    block = b"\xa5" * (1024 * 1024)
    while True:
        hashlib.sha256(block).digest()


class Target:
    """Per-process state: the request counter and the stall clock."""

    def __init__(
        self, options: Options, loop: asyncio.AbstractEventLoop, ballast: bytearray
    ) -> None:
        self.options = options
        self.loop = loop
        self.ballast = ballast  # held for the life of the process: RSS stays >= --alloc-mb
        self.started: float | None = None if options.stall_from_first_request else loop.time()
        self.counted_requests = 0
        self.first_request: float | None = None
        """loop.time() of the first request: --slow-after counts from it."""
        self.arrivals: list[float] = []
        """loop.time() of every request read (--arrival-stats), answered or not."""

    def _status_for(self, path: bytes) -> int:
        if path.split(b"?", 1)[0] == b"/health":
            return 200
        self.counted_requests += 1
        every = self.options.fail_every
        return 500 if every and self.counted_requests % every == 0 else 200

    def _wait_seconds(self) -> float:
        options = self.options
        now = self.loop.time()
        if self.first_request is None:
            self.first_request = now
        wait = 0.0
        if options.slow_ms and now - self.first_request >= options.slow_after:
            wait += options.slow_ms / 1000.0
        if options.stall_every_ms:
            if self.started is None:
                self.started = self.loop.time()
            phase_ms = (self.loop.time() - self.started) * 1000.0 % options.stall_every_ms
            if phase_ms < options.stall_ms:
                wait += (options.stall_ms - phase_ms) / 1000.0
        return wait + options.delay_ms / 1000.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        responses = 0
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                path, keep_alive = request
                if self.options.arrival_stats:
                    self.arrivals.append(self.loop.time())
                status = self._status_for(path)
                wait = self._wait_seconds()
                if wait > 0:
                    await _sleep_at_least(wait)
                responses += 1
                close_after = self.options.close_after
                if close_after and responses >= close_after:
                    keep_alive = False
                writer.write(_response(status, keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except _BadRequest:
            writer.write(_response(400, keep_alive=False))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


class _BadRequest(Exception):
    pass


def _response(status: int, keep_alive: bool) -> bytes:
    connection = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: %s\r\n\r\n%s" % (status, _REASONS[status], len(BODY), connection, BODY)
    )


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bool] | None:
    """(path, keep_alive) of the next request with its body consumed; None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest from exc
        return None
    lines = head.decode("latin-1").split("\r\n")
    try:
        _method, path, version = lines[0].split(" ")
    except ValueError:
        raise _BadRequest from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    # HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes it unless told.
    keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
    if "chunked" in headers.get("transfer-encoding", "").lower():
        await _skip_chunked_body(reader)
    else:
        length = headers.get("content-length", "0")
        if not length.isdigit():
            raise _BadRequest
        await reader.readexactly(int(length))
    return path.encode("latin-1"), keep_alive


async def _skip_chunked_body(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return
        await reader.readexactly(size + 2)


async def serve(options: Options, ballast: bytearray) -> None:
    loop = asyncio.get_running_loop()
    target = Target(options, loop, ballast)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.host, options.port))
    context = None
    if options.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.cert, options.key)
    server = await asyncio.start_server(
        target.handle, sock=sock, backlog=2048, limit=MAX_HEADER_BYTES, ssl=context
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host, port = sock.getsockname()[:2]
    scheme = "https" if context is not None else "http"
    print(f"LISTENING {scheme}://{host}:{port}", flush=True)
    await stop.wait()
    if options.arrival_stats:
        print(f"REQUESTS {len(target.arrivals)}", file=sys.stderr)
        print(f"GAP_SPREAD {_gap_spread(target.arrivals):.4f}", file=sys.stderr, flush=True)
    # Not `async with server`: since Python 3.12 wait_closed() also waits for every
    # keep-alive connection to go away. Returning cancels the handlers, which close theirs.
    server.close()


def _gap_spread(arrivals: Sequence[float]) -> float:
    """Interquartile range / median of the gaps between successive arrivals (0 when there
    are fewer than 4 gaps). Quartiles, not the standard deviation: one pause of the client
    (a burst of catch-up gaps of ~0 after one long gap) moves a few gaps out of a thousand,
    not the spread of the rest."""
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    if len(gaps) < 4:
        return 0.0
    q1, median, q3 = statistics.quantiles(gaps, n=4)
    return (q3 - q1) / median if median > 0 else 0.0


async def _sleep_at_least(seconds: float) -> None:
    """Sleep `seconds`, never less: uvloop's millisecond timers can fire up to ~1 ms early,
    and a "20 ms server" that answers in 19 ms would make every latency test lie."""
    until = time.perf_counter() + seconds
    while (remaining := until - time.perf_counter()) > 0:
        await asyncio.sleep(remaining)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    # Built by repetition, so every page is written: a zeroed bytearray may be mapped
    # lazily and not count towards RSS.
    ballast = bytearray(b"\xa5") * (options.alloc_mb * 1024 * 1024)
    if options.burn_cpu:
        threading.Thread(target=burn_cpu_forever, daemon=True).start()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(options, ballast))
    else:
        uvloop.run(serve(options, ballast))
    return 0


if __name__ == "__main__":
    sys.exit(main())
