"""An HTTP/2 target for perfrun's tests: a tiny ASGI app served by Hypercorn (a real,
third-party h2 server); a script, not a perfrun import.

    python tests/servers/h2echo.py [--cert FILE --key FILE] [--port 0]

Prints `LISTENING http[s]://127.0.0.1:PORT` once bound, serves until SIGTERM / SIGINT,
then writes `VERSIONS 1.1=N 2=M` (requests by the HTTP version the server saw) to
stderr. With a certificate it speaks TLS and offers h2 and http/1.1 by ALPN; without
one, HTTP/1.1 and h2 with prior knowledge (h2c) on the same port. Every request is
answered 200 with `{"http_version": "2", "method": "GET", "path": "/x"}`: what the
server saw, for the client's checks to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config


class Echo:
    """The ASGI app: answers what the server saw, and counts the HTTP versions."""

    def __init__(self) -> None:
        self.versions: Counter[str] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: nothing to set up
            return
        version = scope["http_version"]
        self.versions[version] += 1
        body = json.dumps(
            {"http_version": version, "method": scope["method"], "path": scope["path"]}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_stopped_early: list[int] = []
"""Stop signals that came after LISTENING was printed, before the loop took them over: a
test that stops the server at once (nothing to serve) must still get its VERSIONS line,
not the default action's silent death."""


def _early_stop(signum: int, frame: object) -> None:
    _stopped_early.append(signum)


async def run(config: Config, app: Echo) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    if _stopped_early:  # checked once the loop's handlers are in place: none is missed
        stop.set()
    await serve(app, config, shutdown_trigger=stop.wait, mode="asgi")  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    # Bound here, handed to Hypercorn by its descriptor: the URL is known before it serves.
    sock = socket.create_server(("127.0.0.1", options.port))
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = config.errorlog = None
    scheme = "http"
    if options.cert:
        config.certfile, config.keyfile = options.cert, options.key
        scheme = "https"
    app = Echo()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _early_stop)
    print(f"LISTENING {scheme}://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    asyncio.run(run(config, app))
    counts = " ".join(f"{v}={app.versions[v]}" for v in ("1.1", "2"))
    print(f"VERSIONS {counts}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
