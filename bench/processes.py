"""Processes and CPU for bench/compare.py: pinning, stopping and timing a generator with its
CPU accounted for, and the servers it runs against."""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

# bench/ is not a package: the script's directory (bench/) is first on sys.path.
from generators import Measurement, Tool, ToolFailed

ROOT = Path(__file__).resolve().parents[1]
TARGET_SCRIPT = ROOT / "tests" / "servers" / "target.py"
SERVER_CPU, CLIENT_CPU = 0, 1
GRACE_S = 30  # a child may run this much longer than --seconds before it is killed
TOOL_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The generators' environment: Python tools use their bytecode cache, as an installed
package does (pip compiles one at install), even where the shell says not to write it."""


def compile_perfrun() -> None:
    """Write perfrun's bytecode cache (an editable install has none) so that a measured
    run does not compile its modules: what `pip install` does for a regular install."""
    spec = importlib.util.find_spec("perfrun")
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        subprocess.run([sys.executable, "-m", "compileall", "-q", location], env=TOOL_ENV,
                       check=False, stdout=subprocess.DEVNULL)  # fmt: skip


PINNING = (
    shutil.which("taskset") is not None
    and hasattr(os, "sched_getaffinity")
    and {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
)

NGINX_CONF = """\
worker_processes 1;
pid nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    server {{
        listen 127.0.0.1:{port};
        default_type text/plain;
        {extra}location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


@dataclass(frozen=True)
class Run:
    """One generator run: its report plus what this script measured around it."""

    command: str
    measured: Measurement
    wall_s: float
    cpu_s: float  # user+sys of the generator process, start to exit (wait4), start-up included
    in_run_cpu_s: float | None  # the generator's CPU during the load only, if known (`load_cpu`)
    server_cpu_s: float
    other_cpu_s: float  # every other process on the machine (approximate, see others_cpu_s)


# --- processes, CPU accounting ----------------------------------------------------------


def pinned(argv: list[str], cpu: int) -> list[str]:
    """`taskset -c cpu argv` (affinity set before exec, so every thread and child inherits it)."""
    if PINNING:
        return ["taskset", "-c", str(cpu), *argv]
    return argv


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's whole process group, SIGKILL after 5 s; idempotent."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


def reap(proc: subprocess.Popen[bytes]) -> float | None:
    """If the child has exited: reap it with wait4, set its exit code, and return its user+sys
    CPU from start to exit, plus that of the descendants it waited for. None while it runs."""
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen will not wait for it again
    return usage.ru_utime + usage.ru_stime


def tree_cpu_s(pid: int) -> float:
    """User+sys CPU of a live process and all its descendants."""
    total = 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
    return total


def others_cpu_s() -> float:
    """CPU so far of every process but this script and its descendants (live ones, plus what
    they reaped): how much else ran on the machine. Loopback softirq is left out, because
    the kernel charges it partly to the processes and partly to no one."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    total = 0.0
    for proc in psutil.process_iter():
        if proc.pid not in mine:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


def wait_until_quiet(limit_s: float) -> bool:
    """Wait up to `limit_s` for other processes to use < 5 % of a core over a second."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = others_cpu_s()
        time.sleep(1)
        if others_cpu_s() - before < 0.05:
            return True
    return False


def load_cpu(samples: list[tuple[float, float]], window: tuple[float, float]) -> float:
    """CPU spent between two epoch times, interpolated from (time, cumulative CPU) samples."""

    def at(t: float) -> float:
        before = [s for s in samples if s[0] <= t] or samples[:1]
        after = [s for s in samples if s[0] >= t] or samples[-1:]
        (t0, c0), (t1, c1) = before[-1], after[0]
        return c0 if t1 == t0 else c0 + (c1 - c0) * (t - t0) / (t1 - t0)

    return at(window[1]) - at(window[0])


def run_tool(tool: Tool, url: str, conns: int, seconds: int, server_pid: int, work: Path) -> Run:
    """Run one generator pinned to CLIENT_CPU and account for every CPU-second around it."""
    work.mkdir()
    argv = pinned(tool.prepare(url, conns, seconds, work), CLIENT_CPU)
    print(f"  $ {shlex.join(argv)}", file=sys.stderr, flush=True)
    samples: list[tuple[float, float]] = []
    server0, others0 = tree_cpu_s(server_pid), others_cpu_s()
    t0 = time.time()
    with (work / "output.txt").open("w+b") as out:
        proc = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=TOOL_ENV)  # fmt: skip
        try:
            # The child alone, not its tree: cheap enough for 10 samples a second, and the
            # samples serve Locust only (one process).
            handle = psutil.Process(proc.pid)
            while (cpu := reap(proc)) is None:
                with contextlib.suppress(psutil.Error):
                    times = handle.cpu_times()
                    samples.append((time.time(), times.user + times.system))
                if time.time() - t0 > seconds + GRACE_S:
                    raise ToolFailed(f"killed after {seconds + GRACE_S} s")
                time.sleep(0.1)
        finally:
            stop(proc)
        out.seek(0)
        text = out.read().decode(errors="replace")
    wall = time.time() - t0
    server_cpu, other_cpu = tree_cpu_s(server_pid) - server0, others_cpu_s() - others0
    if proc.returncode not in tool.ok_codes:
        tail = " | ".join([line for line in text.splitlines() if line.strip()][-3:])
        raise ToolFailed(f"exit code {proc.returncode}: {tail}")
    measured = tool.parse(text, work)
    in_run_cpu_s = measured.own_cpu_s
    if in_run_cpu_s is None and measured.load_window is not None and samples:
        in_run_cpu_s = load_cpu(samples, measured.load_window)
    return Run(shlex.join(argv), measured, wall, cpu, in_run_cpu_s, server_cpu, other_cpu)


# --- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(argv: list[str], port: int, log: Path) -> Iterator[int]:
    """Run a server pinned to SERVER_CPU until it answers `GET /`; yield its pid; stop it."""
    with log.open("wb") as log_file:
        proc = subprocess.Popen(pinned(argv, SERVER_CPU), stdin=subprocess.DEVNULL,
                                stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 15
            while not answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} did not start: {log.read_text()[-500:]}")
                time.sleep(0.05)
            yield proc.pid
        finally:
            stop(proc)


def answers(port: int) -> bool:
    # http.client, not urllib: no proxy from the environment may come between.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def nginx(tmp: Path, port: int, request_id: bool = False) -> contextlib.AbstractContextManager[int]:
    """nginx answering `GET /` with 3 bytes; with `request_id`, every response's head
    differs (an X-Request-Id header), as behind many proxies: no head repeats, so a
    generator cannot skip parsing a head it has seen (perfrun's known heads)."""
    prefix = tmp / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    extra = "add_header X-Request-Id $request_id always;\n        " if request_id else ""
    conf.write_text(NGINX_CONF.format(port=port, extra=extra))
    argv = ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf),
            "-g", "daemon off;"]  # fmt: skip
    return serving(argv, port, prefix / "stdout.log")


def delay_target(tmp: Path, port: int, delay_ms: float) -> contextlib.AbstractContextManager[int]:
    argv = [sys.executable, str(TARGET_SCRIPT), "--delay-ms", f"{delay_ms:g}", "--port", str(port)]
    return serving(argv, port, tmp / "target.log")
