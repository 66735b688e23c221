"""Soak: does perfrun's memory stay flat over a long open-model run?

Starts a target on 127.0.0.1 (nginx pinned to CPU 0 when installed, else
tests/servers/target.py), runs `python -m perfrun` pinned to CPU 1 on a generated open-model
scenario (--rate requests/s for --seconds), and samples the resident set size of perfrun's
whole process tree (workers included) every --every seconds. Prints the RSS at 60 s and at
the end and the growth in between: after minute 1 imports, connection pools and warm caches
are in place, so what grows after it grows with the run's length.

A benchmark, not a timed test: 127.0.0.1 only, perfrun killed after --seconds + 60 s, the
target and perfrun stopped on the way out (Ctrl-C and SIGTERM included).

    python bench/soak.py [--rate 2000] [--seconds 600] [--every 5] [--engine fast]
        [--workers 1] [--server auto|nginx|target] [--flow] [--json soak.json]

Set PYTHONPATH to measure another checkout (e.g. a `git worktree` of an older commit).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

# bench/ is not a package: `python bench/soak.py` puts bench/ first on sys.path.
from processes import CLIENT_CPU, PINNING, TARGET_SCRIPT, free_port, nginx, pinned, serving, stop

GRACE_S = 60  # perfrun may run this much longer than --seconds (start-up, report) before a kill
MINUTE_S = 60.0


@dataclass(frozen=True)
class Soak:
    command: str
    server: str
    rate: float
    seconds: int
    pinned: bool
    samples: list[tuple[float, float, int]]
    """(seconds since perfrun started, RSS MB, open file descriptors) of perfrun's process
    tree: a step in RSS with one in descriptors is the connection pool growing."""
    rss_at_60s_mb: float | None
    rss_end_mb: float | None
    growth_after_60s_mb: float | None
    growth_per_minute_mb: float | None
    """Least-squares slope of the RSS after minute 1, in MB a minute."""
    exit_code: int | None
    requests: int | None
    rps: float | None
    latency_max_ms: float | None
    schedule: dict[str, object] | None
    """The report's open-model schedule counts: late, capped (waited for a free slot)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="requests/s (default 2000)")
    parser.add_argument("--seconds", type=int, default=600, help="load duration (default 600)")
    parser.add_argument("--every", type=float, default=5.0, help="RSS sample period, s")
    parser.add_argument("--engine", help="perfrun --engine (default: the scenario's, auto)")
    parser.add_argument(
        "--flow", action="store_true",
        help="a flow instead (20 users, a templated step with a JSON capture, then a step "
        "sending what it captured; needs a JSON target: --server target); --rate unused",
    )  # fmt: skip
    parser.add_argument("--workers", default="1", help="perfrun --workers (default 1)")
    parser.add_argument("--server", choices=("auto", "nginx", "target"), default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures and samples here")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 24 * 3600 or args.rate <= 0 or args.every <= 0:
        parser.error("--seconds must be 1..86400, --rate and --every positive")
    return args


def scenario(url: str, rate: float, seconds: int, flow: bool = False) -> str:
    if flow:  # closed model: 20 users, each step templated, captured from, its value sent on
        return textwrap.dedent(f"""\
            scenarios:
              soak:
                type: endurance
                severity: low
                base_url: {url}
                flow:
                  - {{name: get, path: '/x/{{{{ $iteration }}}}', capture: {{v: {{json: ok}}}}}}
                  - {{name: use, path: '/y/{{{{ $user }}}}', headers: {{X-V: '{{{{ v }}}}'}}}}
                load: {{users: 20, duration: {seconds}s, timeout: 10s}}
        """)
    return textwrap.dedent(f"""\
        scenarios:
          soak:
            type: endurance
            severity: low
            base_url: {url}
            requests: [{{name: root, path: /}}]
            load: {{rate: {rate:g}, duration: {seconds}s, timeout: 10s}}
    """)


def tree_usage(root: psutil.Process) -> tuple[float, int] | None:
    """RSS (MB) and open descriptors of a process and its descendants; None once gone."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    rss = fds = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            rss += proc.memory_info().rss
            fds += proc.num_fds()
    return rss / 2**20, fds


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * MINUTE_S


def soak(args: argparse.Namespace, url: str, server: str, work: Path) -> Soak:
    (work / "soak.yaml").write_text(scenario(url, args.rate, args.seconds, args.flow))
    argv = [sys.executable, "-m", "perfrun", "--scenarios-dir", str(work), "-q",
            "--output", str(work / "report.json"), "--workers", str(args.workers)]  # fmt: skip
    if args.engine:
        argv += ["--engine", args.engine]
    argv = pinned(argv, CLIENT_CPU)
    print(f"  $ {shlex.join(argv)}", file=sys.stderr, flush=True)
    samples: list[tuple[float, float, int]] = []
    with (work / "perfrun.log").open("w+b") as log:
        proc = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        t0 = time.monotonic()
        try:
            root = psutil.Process(proc.pid)
            while proc.poll() is None:
                elapsed = time.monotonic() - t0
                if elapsed > args.seconds + GRACE_S:
                    print(f"  perfrun killed after {elapsed:.0f} s", file=sys.stderr)
                    break
                usage = tree_usage(root)
                if usage is not None and usage[0] > 0:
                    rss, fds = usage
                    samples.append((round(elapsed, 1), round(rss, 2), fds))
                    if len(samples) % max(int(MINUTE_S / args.every), 1) == 0:
                        line = f"  {elapsed:5.0f} s  {rss:6.1f} MB  {fds} fds"
                        print(line, file=sys.stderr, flush=True)
                time.sleep(args.every)
        finally:
            stop(proc)
        log.seek(0)
        tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
    if proc.returncode not in (0, 1):
        print("  perfrun: " + " | ".join(tail), file=sys.stderr)
    return summarise(args, shlex.join(argv), server, samples, proc.returncode, work)


def summarise(
    args: argparse.Namespace,
    command: str,
    server: str,
    samples: list[tuple[float, float, int]],
    exit_code: int | None,
    work: Path,
) -> Soak:
    # The last sample may catch the report being built: the load's end is what counts.
    during = [s for s in samples if s[0] <= args.seconds] or samples
    after_minute = [s for s in during if s[0] >= MINUTE_S]
    at_60 = after_minute[0][1] if after_minute else None
    end = during[-1][1] if during else None
    requests = rps = latency_max = schedule = None
    with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
        scenario = json.loads((work / "report.json").read_text())["scenarios"][0]
        requests, rps = int(scenario["requests"]["total"]), float(scenario["requests"]["rps"])
        latency_max, schedule = scenario["latency_ms"]["max"], scenario.get("schedule")
    return Soak(
        command=command,
        server=server,
        rate=0.0 if args.flow else args.rate,
        seconds=args.seconds,
        pinned=PINNING,
        samples=samples,
        rss_at_60s_mb=at_60,
        rss_end_mb=end,
        growth_after_60s_mb=round(end - at_60, 2)
        if at_60 is not None and end is not None
        else None,
        growth_per_minute_mb=slope_per_minute([(t, rss) for t, rss, _ in after_minute]),
        exit_code=exit_code,
        requests=requests,
        rps=rps,
        latency_max_ms=latency_max,
        schedule=schedule,
    )


def target(
    work: Path, port: int, choice: str
) -> tuple[str, contextlib.AbstractContextManager[int]]:
    """nginx pinned to CPU 0 (as bench/compare.py runs it) when asked or installed, else
    tests/servers/target.py, answering at once."""
    if choice == "nginx" or (choice == "auto" and shutil.which("nginx")):
        return "nginx", nginx(work, port)
    argv = [sys.executable, str(TARGET_SCRIPT), "--port", str(port)]
    return "tests/servers/target.py", serving(argv, port, work / "target.log")


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops the soak like Ctrl-C: the finally blocks stop perfrun and the target."""
    raise KeyboardInterrupt


def render(result: Soak) -> str:
    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} MB"

    slope = result.growth_per_minute_mb

    counts = {k: v for k, v in (result.schedule or {}).items() if k != "send_delay_ms"}

    def fds(at: float) -> int | None:
        before = [n for t, _, n in result.samples if t <= at]
        return before[-1] if before else None

    load = "a flow, 20 users" if result.rate == 0 else f"{result.rate:g} req/s"
    return "\n".join([
        f"perfrun soak: {load} for {result.seconds} s against {result.server}"
        f" ({'pinned' if result.pinned else 'not pinned'})",
        f"  requests: {result.requests}  rps: {result.rps}  exit code: {result.exit_code}"
        f"  latency max: {result.latency_max_ms} ms",
        f"  schedule: {counts}",
        f"  open descriptors at 60 s / end: {fds(60.0)} / {fds(result.seconds)}",
        f"  RSS at 60 s: {mb(result.rss_at_60s_mb)}",
        f"  RSS at end:  {mb(result.rss_end_mb)}",
        f"  growth after minute 1: {mb(result.growth_after_60s_mb)}"
        f" (slope {'n/a' if slope is None else f'{slope:.2f} MB/min'})",
    ])  # fmt: skip


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory(prefix="perfrun-soak-") as tmp_name:
        work = Path(tmp_name)
        port = free_port()
        server, serving_cm = target(work, port, args.server)
        print(f"target: {server} on 127.0.0.1:{port}", file=sys.stderr)
        try:
            with serving_cm:
                result = soak(args, f"http://127.0.0.1:{port}", server, work)
        except KeyboardInterrupt:
            print("interrupted: perfrun and the target stopped", file=sys.stderr)
            return 130
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
