"""perfrun next to wrk, ab, hey and Locust: req/s, requests per client CPU-second, latency error.

1. Throughput: nginx (one worker, `GET /` -> 3-byte body) pinned to CPU 0; each generator
   pinned to CPU 1 runs --connections closed-loop connections for --seconds against it.
2. Latency error: tests/servers/target.py answering after a fixed --delay-ms, pinned to
   CPU 0; each generator at --latency-connections; error = measured percentile - delay.

A benchmark, not a timed test: 127.0.0.1 only, every child killed after --seconds + 30 s,
every server stopped on the way out (Ctrl-C included). Tools that are not installed are
skipped and listed; nothing is installed. Prints a markdown table.

    python bench/compare.py [--seconds 5] [--connections 50] [--delay-ms 20]
        [--engines httpx,fast] [--tools wrk,ab,hey,locust] [--quiet-wait S] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
TARGET_SCRIPT = ROOT / "tests" / "servers" / "target.py"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
TOOLS = ("wrk", "ab", "hey", "locust")
SERVER_CPU, CLIENT_CPU = 0, 1
GRACE_S = 30  # a child may run this much longer than --seconds before it is killed
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
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


class ToolFailed(Exception):
    """A generator that timed out, exited with an unexpected code or printed nothing usable."""


@dataclass(frozen=True)
class Measurement:
    """What a generator itself reported about one run."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    load_window: tuple[float, float] | None = None  # epoch s of first/last request, if told
    own_cpu_s: float | None = None  # the tool's own in-run CPU figure (perfrun's monitor)


@dataclass(frozen=True)
class Run:
    """One generator run: its report plus what this script measured around it."""

    command: str
    measured: Measurement
    wall_s: float
    cpu_s: float  # user+sys of the generator's whole process tree (getrusage), start-up included
    load_cpu_s: float  # the generator's CPU during the load only (see `load_cpu`)
    server_cpu_s: float
    other_cpu_s: float  # every other process on the machine (approximate, see others_cpu_s)


@dataclass
class Row:
    name: str
    throughput: Run | None = None
    latency: Run | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    name: str
    prepare: Callable[[str, int, int, Path], list[str]]  # (url, conns, seconds, workdir) -> argv
    parse: Callable[[str, Path], Measurement]  # (output, workdir)
    ok_codes: frozenset[int] = frozenset({0})


# --- the generators ---------------------------------------------------------------------


def _num(pattern: str, text: str, default: str | None = None) -> float:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        if default is None:
            raise ToolFailed(f"no {pattern!r} in the output")
        return float(default)
    return float(match[1])


def _wrk_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ToolFailed(f"unexpected wrk latency {value!r}")
    return float(match[1]) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[match[2]]


def parse_wrk(out: str, work: Path) -> Measurement:
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = sum(map(int, re.findall(r"\d+", socket_errors[1]))) if socket_errors else 0
    p50, p99 = (re.search(rf"^\s+{p}%\s+(\S+)$", out, re.MULTILINE) for p in (50, 99))
    if p50 is None or p99 is None:
        raise ToolFailed("no latency distribution in wrk's output")
    return Measurement(
        requests=int(_num(r"(\d+) requests in", out)),
        rps=_num(r"Requests/sec:\s+([\d.]+)", out),
        p50_ms=_wrk_ms(p50[1]),
        p99_ms=_wrk_ms(p99[1]),
        errors=errors + int(_num(r"Non-2xx or 3xx responses: (\d+)", out, "0")),
    )


def parse_ab(out: str, work: Path) -> Measurement:
    return Measurement(
        requests=int(_num(r"Complete requests:\s+(\d+)", out)),
        rps=_num(r"Requests per second:\s+([\d.]+)", out),
        p50_ms=_num(r"^\s+50%\s+(\d+)$", out),  # ab prints whole milliseconds
        p99_ms=_num(r"^\s+99%\s+(\d+)$", out),
        errors=int(_num(r"Failed requests:\s+(\d+)", out))
        + int(_num(r"Non-2xx responses:\s+(\d+)", out, "0")),
    )


def parse_hey(out: str, work: Path) -> Measurement:
    statuses = {int(s): int(n) for s, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    error_lines = out.partition("Error distribution")[2]
    failures = sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+\S", error_lines, re.MULTILINE))
    return Measurement(
        requests=sum(statuses.values()) + failures,
        rps=_num(r"Requests/sec:\s+([\d.]+)", out),
        p50_ms=_num(r"50% in ([\d.]+) secs", out) * 1e3,
        p99_ms=_num(r"99% in ([\d.]+) secs", out) * 1e3,
        errors=failures + sum(n for s, n in statuses.items() if not 200 <= s < 400),
    )


def _locust_percentile(buckets: dict[int, int], count: int, percent: float) -> float:
    """Locust's own rule (locust.stats.calculate_response_time_percentile), on its buckets."""
    seen = 0
    for value in sorted(buckets, reverse=True):
        seen += buckets[value]
        if count - seen <= int(count * percent):
            return float(value)
    return 0.0


def parse_locust(out: str, work: Path) -> Measurement:
    # Not the CSV: Locust rewrites it once a second and does not write it again at exit,
    # so it misses the last second (a quarter of the requests in a 5 s run).
    entries = json.loads((work / "locust.json").read_text())
    count = sum(e["num_requests"] for e in entries)
    buckets: dict[int, int] = {}
    for entry in entries:
        for value, n in entry["response_times"].items():
            buckets[int(value)] = buckets.get(int(value), 0) + n
    start = min(e["start_time"] for e in entries)
    end = max(e["last_request_timestamp"] or start for e in entries)
    return Measurement(
        requests=count,
        rps=count / (end - start) if end > start else 0.0,
        p50_ms=_locust_percentile(buckets, count, 0.50),
        p99_ms=_locust_percentile(buckets, count, 0.99),
        errors=sum(e["num_failures"] for e in entries),
        load_window=(start, end),
    )


def parse_perfrun(out: str, work: Path) -> Measurement:
    scenario = json.loads((work / "report.json").read_text())["scenarios"][0]
    if scenario["status"] != "completed":
        raise ToolFailed(f"perfrun: {scenario['status']}: {scenario['message']}")
    requests, latency = scenario["requests"], scenario["latency_ms"]
    generator_cpu = scenario["resources"]["generator"]["cpu_percent"]["avg"]
    return Measurement(
        requests=requests["total"],
        rps=requests["rps"],
        p50_ms=latency["p50"],
        p99_ms=latency["p99"],
        errors=requests["failed"],
        own_cpu_s=generator_cpu / 100 * scenario["duration_s"],
    )


def perfrun_tool(engine: str | None, workers_option: bool) -> Tool:
    def prepare(url: str, conns: int, seconds: int, work: Path) -> list[str]:
        (work / "bench.yaml").write_text(
            textwrap.dedent(f"""\
                scenarios:
                  bench:
                    type: load
                    severity: low
                    base_url: {url}
                    requests: [{{name: root, path: /}}]
                    load: {{users: {conns}, duration: {seconds}s}}
            """)
        )
        engine_args = ["--engine", engine] if engine else []
        if workers_option:  # one pinned core: one worker, whatever the default becomes
            engine_args += ["--workers", "1"]
        return [sys.executable, "-m", "perfrun", *engine_args, "--scenarios-dir", str(work),
                "--output", str(work / "report.json"), "-q"]  # fmt: skip

    name = f"perfrun --engine {engine}" if engine else "perfrun (httpx)"
    return Tool(name, prepare, parse_perfrun, frozenset({0, 1}))


def wrk_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    return ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", f"{url}/"]


def ab_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    # -t alone caps the run at 50,000 requests; ab preallocates 32 bytes per -n request.
    return ["ab", "-k", "-q", *f"-c {conns} -t {seconds} -n {seconds * 300_000}".split(), f"{url}/"]


def hey_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    return ["hey", "-z", f"{seconds}s", "-c", str(conns), "-cpus", "1", f"{url}/"]


def locust_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    if importlib.util.find_spec("locust") is not None:
        locust = [sys.executable, "-m", "locust"]
    else:
        locust = ["locust"]
    # All users at once (spawn rate 10 x users), like the other tools' connections.
    options = f"--headless -u {conns} -r {conns * 10} -t {seconds}s --only-summary -L ERROR"
    return [*locust, "-f", str(LOCUSTFILE), *options.split(), "--host", url,
            "--json-file", str(work / "locust")]  # fmt: skip


THIRD_PARTY = {
    "wrk": Tool("wrk", wrk_argv, parse_wrk),
    "ab": Tool("ab", ab_argv, parse_ab),
    "hey": Tool("hey", hey_argv, parse_hey),
    # Locust exits 1 when a request failed; the failures are counted from its stats.
    "locust": Tool("locust", locust_argv, parse_locust, frozenset({0, 1})),
}


def installed(name: str) -> bool:
    if name == "locust":
        return importlib.util.find_spec("locust") is not None or shutil.which("locust") is not None
    return shutil.which(name) is not None


def perfrun_options() -> set[str]:
    """Which of `--engine`, `--workers` this perfrun has (they are newer than the bench)."""
    help_text = subprocess.run(
        [sys.executable, "-m", "perfrun", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    return {option for option in ("--engine", "--workers") if option in help_text}


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


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    cpu0, t0 = children_cpu_s(), time.time()
    with (work / "output.txt").open("w+b") as out:
        proc = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            # The child alone, not its tree: cheap enough for 10 samples a second, and the
            # samples serve Locust only (one process).
            handle = psutil.Process(proc.pid)
            while proc.poll() is None:
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
    wall, cpu = time.time() - t0, children_cpu_s() - cpu0
    server_cpu, other_cpu = tree_cpu_s(server_pid) - server0, others_cpu_s() - others0
    if proc.returncode not in tool.ok_codes:
        tail = " | ".join([line for line in text.splitlines() if line.strip()][-3:])
        raise ToolFailed(f"exit code {proc.returncode}: {tail}")
    measured = tool.parse(text, work)
    load_cpu_s = cpu
    if measured.own_cpu_s is not None:
        load_cpu_s = measured.own_cpu_s
    elif measured.load_window is not None and samples:
        load_cpu_s = load_cpu(samples, measured.load_window)
    return Run(shlex.join(argv), measured, wall, cpu, load_cpu_s, server_cpu, other_cpu)


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


def nginx(tmp: Path, port: int) -> contextlib.AbstractContextManager[int]:
    prefix = tmp / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(port=port))
    argv = ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf),
            "-g", "daemon off;"]  # fmt: skip
    return serving(argv, port, prefix / "stdout.log")


def delay_target(tmp: Path, port: int, delay_ms: float) -> contextlib.AbstractContextManager[int]:
    argv = [sys.executable, str(TARGET_SCRIPT), "--delay-ms", f"{delay_ms:g}", "--port", str(port)]
    return serving(argv, port, tmp / "target.log")


# --- report -----------------------------------------------------------------------------


def environment(has_engine: bool) -> dict[str, str]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model}, {os.cpu_count()} cores",
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "perfrun engines": "--engine available" if has_engine else "httpx only (no --engine)",
        "pinning": "taskset: server CPU 0, generator CPU 1" if PINNING else "none (not pinned)",
    }


def cells(row: Row, wrk_per_cpu: float | None, args: argparse.Namespace) -> list[str]:
    """One table row: the throughput run's figures, the latency run's errors."""
    rps = per_cpu = ratio = whole = server = p50 = p99 = "-"
    if run := row.throughput:
        m = run.measured
        per_cpu_value = m.requests / run.load_cpu_s if run.load_cpu_s > 0 else 0.0
        rps, per_cpu = f"{m.rps:,.0f}", f"{per_cpu_value:,.0f}"
        ratio = f"{per_cpu_value / wrk_per_cpu:.2g}" if wrk_per_cpu else "n/a"
        whole = f"{m.requests / run.cpu_s:,.0f}" if run.cpu_s > 0 else "-"
        server = f"{100 * run.server_cpu_s / args.seconds:.0f}"
    if run := row.latency:
        p50 = f"{run.measured.p50_ms - args.delay_ms:+.2f}"
        p99 = f"{run.measured.p99_ms - args.delay_ms:+.2f}"
    other = " / ".join(
        f"{100 * run.other_cpu_s / run.wall_s:.0f}" if run else "-"
        for run in (row.throughput, row.latency)
    )
    return [row.name, rps, per_cpu, ratio, whole, server, other, p50, p99]


def render(rows: list[Row], args: argparse.Namespace, env: dict[str, str]) -> str:
    wrk = next((r.throughput for r in rows if r.name == "wrk" and r.throughput), None)
    wrk_per_cpu = wrk.measured.requests / wrk.load_cpu_s if wrk else None
    lines = [
        f"perfrun vs other load generators, {env['date']}",
        "",
        *(f"- {key}: {value}" for key, value in env.items() if key != "date"),
        f"- throughput: nginx 1 worker, GET / (3-byte body), {args.connections} connections, "
        f"{args.seconds} s; latency: tests/servers/target.py --delay-ms {args.delay_ms:g}, "
        f"{args.latency_connections} connections, {args.seconds} s",
        "",
        "| generator | req/s | req per client CPU-s | ratio to wrk (req/CPU-s) "
        "| whole-process req/CPU-s | server CPU % | other CPU % thr / lat | p50 error ms "
        "| p99 error ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines += ["| " + " | ".join(cells(row, wrk_per_cpu, args)) + " |" for row in rows]
    lines += [
        "",
        "- req per client CPU-s: requests ÷ the generator's CPU during the load. perfrun: its own "
        "monitor (report resources.generator.cpu_percent.avg × duration_s: its process, and "
        "its workers with --workers > 1); "
        "Locust: its process CPU sampled every 0.1 s, between its first and last request; "
        "wrk, ab, hey: whole process (their start-up costs milliseconds).",
        "- whole-process: requests ÷ user+sys CPU of the generator's process tree from "
        "getrusage(RUSAGE_CHILDREN), interpreter start-up and imports included.",
        "- server CPU: nginx's CPU over the run, % of one core: near 100 the server, not the "
        "generator, was the limit. other CPU: every other process on the machine during the "
        "throughput / the latency run, % of one core: above ~10 the row was disturbed.",
        "- latency error = percentile - delay, closed loop (no coordinated-omission "
        "correction, fine for a fixed-delay server). Resolution: ab 1 ms, Locust 1 ms "
        "buckets, hey 0.1 ms, wrk 0.01 ms, perfrun 0.001 ms.",
    ]
    for row in rows:
        lines += [f"- {row.name}: {note}" for note in row.notes]
        for phase, run in (("throughput", row.throughput), ("latency", row.latency)):
            if run and run.measured.errors:
                lines.append(f"- {row.name}: {run.measured.errors} failed requests ({phase})")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of every run")
    parser.add_argument("--connections", type=int, default=50, help="throughput concurrency")
    parser.add_argument("--latency-connections", type=int, default=10)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="fixed server delay")
    parser.add_argument("--engines", default="httpx,fast", help="perfrun engines ('' = none)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="other generators to run")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        metavar="S",
        help="before each run, wait up to S s for other processes to go quiet (shared machines)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    args.engines = [e for e in args.engines.split(",") if e]
    args.tools = [t for t in args.tools.split(",") if t]
    if unknown := set(args.tools) - set(TOOLS):
        parser.error(f"unknown tools {sorted(unknown)}; known: {', '.join(TOOLS)}")
    if args.seconds < 1 or args.connections < 1 or args.latency_connections < 1:
        parser.error("--seconds and the connection counts must be at least 1")
    return args


def select_tools(args: argparse.Namespace, options: set[str]) -> tuple[list[Tool], list[Row]]:
    """The generators to run, and rows saying why the others are skipped."""
    tools: list[Tool] = []
    skipped: list[Row] = []
    for engine in args.engines:
        if "--engine" in options:
            tools.append(perfrun_tool(engine, "--workers" in options))
        elif engine == "httpx":
            tools.append(perfrun_tool(None, "--workers" in options))
        else:
            skipped.append(Row(f"perfrun {engine}", notes=["skipped: perfrun has no --engine"]))
    for name in args.tools:
        if installed(name):
            tools.append(THIRD_PARTY[name])
        else:
            skipped.append(Row(name, notes=["skipped: not installed"]))
    return tools, skipped


def run_phase(
    phase: str, tools: list[Tool], rows: list[Row], port: int, conns: int, args: argparse.Namespace,
    server_pid: int, tmp: Path,
) -> None:  # fmt: skip
    """Every generator against the server on `port`; a failure is a note on its row."""
    for index, (tool, row) in enumerate(zip(tools, rows, strict=True)):
        work = tmp / f"{phase}-{index}"
        if args.quiet_wait and not wait_until_quiet(args.quiet_wait):
            row.notes.append(f"{phase}: other processes kept the machine busy")
        try:
            run = run_tool(tool, f"http://127.0.0.1:{port}", conns, args.seconds, server_pid, work)
        except (ToolFailed, OSError, ValueError, KeyError, psutil.Error) as exc:
            row.notes.append(f"{phase} failed: {type(exc).__name__}: {exc}")
            print(f"  {row.name}: {phase} failed: {exc}", file=sys.stderr)
            continue
        setattr(row, phase, run)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops the bench like Ctrl-C: the finally blocks stop every server."""
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    options = perfrun_options()
    tools, skipped = select_tools(args, options)
    rows = [Row(tool.name) for tool in tools]
    env = environment("--engine" in options)
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="perfrun-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if installed("nginx"):
                port = free_port()
                print(f"throughput: nginx on 127.0.0.1:{port}", file=sys.stderr)
                with nginx(tmp, port) as pid:
                    run_phase("throughput", tools, rows, port, args.connections, args, pid, tmp)
            else:
                skipped.append(Row("nginx", notes=["not installed: no throughput figures"]))
            port = free_port()
            print(f"latency: target.py --delay-ms {args.delay_ms:g} on :{port}", file=sys.stderr)
            with delay_target(tmp, port, args.delay_ms) as pid:
                run_phase("latency", tools, rows, port, args.latency_connections, args, pid, tmp)
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted: servers stopped, partial results follow", file=sys.stderr)
    if args.json:  # first: the figures survive a rendering bug
        payload = {"environment": env, "args": vars(args) | {"json": str(args.json)},
                   "rows": [dataclasses.asdict(row) for row in rows + skipped]}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    if interrupted:
        print("INTERRUPTED: partial results\n")
    print(render(rows + skipped, args, env))
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
