"""A target that leaks at a known rate, for perfrun's leak verdicts; a script, not a
perfrun import.

    python tests/servers/leaky.py [--grow-mb-per-s R] [--leak-kb-per-request K] [--leak-fd]
        [--port P]

Prints `LISTENING http://127.0.0.1:PORT` once bound, serves until SIGTERM / SIGINT; every
request is answered `{"ok":true}` with 200 on a kept-alive connection.
- `--grow-mb-per-s R`: from start-up, its resident memory grows by R MiB a second (touched
  memory, paced by the clock so that a busy machine delays it but keeps the rate).
- `--leak-kb-per-request K`: each request keeps K KiB of touched memory for good.
- `--leak-fd`: each request opens /dev/null and never closes it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import threading
import time

BODY = b'{"ok":true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
GROW_STEP_S = 0.05


def grow(mb_per_s: float, kept: list[bytearray]) -> None:
    """Keep RSS at start + mb_per_s × elapsed, in small touched blocks."""
    started = time.monotonic()
    allocated = 0
    while True:
        due = int(mb_per_s * 2**20 * (time.monotonic() - started))
        if due > allocated:
            kept.append(bytearray(b"\x01") * (due - allocated))  # written: resident
            allocated = due
        time.sleep(GROW_STEP_S)


async def serve(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    options: argparse.Namespace,
    kept: list[object],
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            if options.leak_kb_per_request:
                kept.append(bytearray(b"\x01") * (options.leak_kb_per_request * 1024))
            if options.leak_fd:
                kept.append(os.open(os.devnull, os.O_RDONLY))
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(options: argparse.Namespace) -> None:
    kept: list[object] = []
    if options.grow_mb_per_s:
        ballast: list[bytearray] = []
        threading.Thread(target=grow, args=(options.grow_mb_per_s, ballast), daemon=True).start()
    sock = socket.create_server(("127.0.0.1", options.port))
    server = await asyncio.start_server(lambda r, w: serve(r, w, options, kept), sock=sock)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Announced once a stop signal is ours: one sent at once still ends the run cleanly.
    print(f"LISTENING http://127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="leaky.py", description=__doc__)
    parser.add_argument("--grow-mb-per-s", type=float, default=0.0)
    parser.add_argument("--leak-kb-per-request", type=int, default=0)
    parser.add_argument("--leak-fd", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    asyncio.run(main(parser.parse_args()))
