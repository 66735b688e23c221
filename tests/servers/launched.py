"""A service for perfrun to launch from a scenario's `target:` (tests/integration/
test_target_launch.py): answers 200 on every path, and misbehaves on request.

    python launched.py --port PORT [--ready-after S] [--say TEXT] [--exit-after S]
                       [--served N] [--exit-code N] [--never-listen] [--child PIDFILE]
                       [--ignore-term]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVED = threading.Semaphore(0)
"""Released once per request answered (but readiness probes): `--served` waits for them."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path != "/health":
            SERVED.release()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would fill the log file for nothing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-after", type=float, default=0.0)
    parser.add_argument("--say", default="", help="print this once listening")
    parser.add_argument("--exit-after", type=float, help="exit this long after listening")
    parser.add_argument(
        "--served", type=int, default=0,
        help="with --exit-after: and not before answering this many requests (a busy "
        "machine may start the load later than the timer)",
    )  # fmt: skip
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--never-listen", action="store_true")
    parser.add_argument("--child", help="start a child in this process group; its pid here")
    parser.add_argument("--ignore-term", action="store_true")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(args.child, "w") as file:
            file.write(str(child.pid))
    print(f"starting, pid {os.getpid()}", flush=True)
    if args.never_listen:
        print("waiting for a database that never comes", flush=True)
        time.sleep(600)
    time.sleep(args.ready_after)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.exit_after is not None:

        def exit_once_served() -> None:
            for _ in range(args.served):
                SERVED.acquire()
            os._exit(args.exit_code)

        threading.Timer(args.exit_after, exit_once_served).start()
    if args.say:
        print(args.say, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
