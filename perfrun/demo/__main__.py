"""`python -m perfrun.demo`: serve the demo target until SIGTERM / SIGINT.

The socket is bound here, before uvicorn starts, so that `--port 0` can pick a free port
and the real one can be announced on stdout as exactly one line:

    PERFRUN_DEMO_LISTENING http://127.0.0.1:PORT

The socket is already listening when that line is printed, so a client connecting right
away is queued by the kernel rather than refused.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence

import uvicorn

from perfrun.demo.app import DemoApp
from perfrun.demo.process import LISTENING_PREFIX

_BACKLOG = 2048
_GRACEFUL_SHUTDOWN_SECONDS = 3
_PARENT_POLL_SECONDS = 0.5


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the kernel picks a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def socket_url(sock: socket.socket) -> str:
    """`http://host:port` for a bound socket, with IPv6 hosts in brackets."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _exit_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    # Reparenting is the POSIX sign that the parent died without stopping us (SIGKILL,
    # crash); the demo target is POSIX-only, like its launcher's pipe handling. uvicorn's
    # main loop polls `should_exit`, so no signal is needed.
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_POLL_SECONDS)
    server.should_exit = True


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, bind, announce the URL, serve until told to stop; return 0."""
    parser = argparse.ArgumentParser(
        prog="python -m perfrun.demo", description="perfrun's built-in demo target."
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s (loopback)")
    parser.add_argument("--port", type=int, default=0, help="default: 0, a free port")
    parser.add_argument(
        "--parent-pid",
        type=int,
        metavar="PID",
        help="stop when PID is no longer this process's parent (it died, or was gone already)",
    )
    args = parser.parse_args(argv)

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"perfrun.demo: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    config = uvicorn.Config(
        DemoApp(),
        http="httptools",
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once it has shut down, which would end
    # the process with -SIGTERM. With its own handler installed as the one to restore, the
    # re-raise only sets `should_exit` again, and we return 0. Installed before the URL is
    # printed, so a signal that comes before uvicorn is serving is not lost either.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)
    if args.parent_pid is not None:
        # The pid comes from the parent itself: one read here with os.getppid() would be
        # init's already if the parent died while this process was starting.
        watch = (server, args.parent_pid)
        threading.Thread(target=_exit_with_parent, args=watch, daemon=True).start()

    print(f"{LISTENING_PREFIX} {socket_url(sock)}", flush=True)
    with sock:
        server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
