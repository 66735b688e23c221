"""Figures for the httpx engine: throughput, client CPU per request, latency error.

Runs on 127.0.0.1 only, bounded in time, and stops every server it starts:

1. Throughput: the demo target pinned to CPU 0, perfrun pinned to CPU 1 (when there
   are two cores), N closed-model users for D seconds against GET /health.
   Client CPU per request = perfrun's CPU time over the load window / requests.
2. Latency error: the same against tests/servers/target.py answering after a fixed
   delay; error = measured percentile - delay.

    python bench/engine_figures.py [--users 50] [--seconds 5] [--delay-ms 20] [--engines fast,httpx]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perfrun.demo.process import DemoTarget  # noqa: E402
from tests.servers.launch import start_target  # noqa: E402


def pin(pid: int, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {cpu})


def run_perfrun(
    url: str, engine: str, users: int, seconds: float, think_ms: float = 0
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bench.yaml").write_text(
            textwrap.dedent(f"""\
                scenarios:
                  bench:
                    type: load
                    severity: low
                    base_url: {url}
                    requests: [{{name: health, path: /health}}]
                    load: {{users: {users}, duration: {seconds}s, think_time: {think_ms}ms}}
                    monitor: {{interval: 0.5s}}
            """)
        )
        out = Path(tmp, "report.json")
        cmd = [sys.executable, "-m", "perfrun", "--scenarios-dir", tmp, "-o", str(out), "-q"]
        cmd += ["--engine", engine]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
        pin(proc.pid, 1)
        proc.wait(timeout=seconds + 60)
        return dict(json.loads(out.read_text())["scenarios"][0])


def throughput(engine: str, users: int, seconds: float) -> None:
    with DemoTarget() as demo:
        pin(demo.pid, 0)
        s = run_perfrun(demo.base_url, engine, users, seconds)
    total, window = s["requests"]["total"], s["duration_s"]
    cpu = s["resources"]["generator"]["cpu_percent"]["avg"] / 100 * window
    print(f"{engine} engine, throughput: {users} users, {seconds:g}s, GET /health on the demo")
    print(f"  requests {total}, {s['requests']['rps']:.0f} req/s, errors {s['errors']}")
    print(
        f"  client CPU {cpu:.2f} s = {cpu / total * 1e6:.0f} µs/request "
        f"= {total / cpu:,.0f} requests per client CPU-second"
    )
    print(f"  latency ms: {s['latency_ms']}")


def latency_error(engine: str, users: int, seconds: float, delay_ms: float) -> None:
    with start_target("--delay-ms", str(delay_ms)) as target:
        pin(target.pid, 0)
        s = run_perfrun(target.url, engine, users, seconds)
    lat = s["latency_ms"]
    print(
        f"{engine} engine, latency error: {users} users, {seconds:g}s, fixed {delay_ms:g} ms server"
    )
    for key in ("min", "p50", "p90", "p99", "max"):
        print(f"  {key:>4}: {lat[key]:8.2f} ms  (+{lat[key] - delay_ms:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--latency-users", type=int, default=10)
    parser.add_argument("--engines", default="fast,httpx")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        throughput(engine, args.users, args.seconds)
        latency_error(engine, args.latency_users, args.seconds, args.delay_ms)


if __name__ == "__main__":
    main()
