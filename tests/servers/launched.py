"""A service for perfrun to launch from a scenario's `target:` (tests/integration/
test_target_launch.py): answers 200 on every path, and misbehaves on request.

    python launched.py --port PORT [--ready-after S] [--say TEXT] [--exit-after S]
                       [--exit-code N] [--never-listen] [--child PIDFILE] [--ignore-term]
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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would fill the log file for nothing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-after", type=float, default=0.0)
    parser.add_argument("--say", default="", help="print this once listening")
    parser.add_argument("--exit-after", type=float, help="exit this long after listening")
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
        threading.Timer(args.exit_after, os._exit, (args.exit_code,)).start()
    if args.say:
        print(args.say, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
