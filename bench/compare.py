"""perfrun next to wrk, ab, hey, k6 and Locust: req/s, requests per CPU-second, latency error.

1. Throughput: nginx (one worker, `GET /` -> 3-byte body) pinned to CPU 0; each generator
   pinned to CPU 1 runs --connections closed-loop connections for --seconds against it.
2. Latency error: tests/servers/target.py answering after a fixed --delay-ms, pinned to
   CPU 0; each generator at --latency-connections; error = measured percentile - delay.

The headline is requests per CPU-second of the whole generator process, start to exit.

A benchmark, not a timed test: 127.0.0.1 only, every child killed after --seconds + 30 s,
every server stopped on the way out (Ctrl-C included). Tools that are not installed are
skipped and listed; nothing is installed (k6: see bench/README.md). Prints a markdown table.

    python bench/compare.py [--seconds 10] [--connections 50] [--delay-ms 20]
        [--engines httpx,fast] [--tools wrk,ab,hey,k6,locust] [--quiet-wait S] [--json out.json]
        [--request-id]

nginx repeats its response head until the Date's second changes, and perfrun's fast
engine does not parse a head it parsed last on that connection (docs/architecture.md).
`--request-id` makes nginx add an X-Request-Id to every response: every head is parsed,
as against a service whose every response carries an id of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

# bench/ is not a package: `python bench/compare.py` puts bench/ first on sys.path, so the
# sibling modules import by name.
from generators import (
    THIRD_PARTY,
    TOOLS,
    Tool,
    ToolFailed,
    installed,
    perfrun_options,
    perfrun_tool,
)
from processes import (
    PINNING,
    Run,
    compile_perfrun,
    delay_target,
    free_port,
    nginx,
    run_tool,
    wait_until_quiet,
)


@dataclass
class Row:
    name: str
    throughput: Run | None = None
    latency: Run | None = None
    notes: list[str] = field(default_factory=list)


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


def per_cpu(run: Run) -> float | None:
    """The headline: requests per CPU-second of the whole generator process, start to exit."""
    return run.measured.requests / run.cpu_s if run.cpu_s > 0 else None


def ratio(value: float | None, reference: float | None) -> str:
    return f"{value / reference:.2g}" if value and reference else "-"


def cells(row: Row, references: list[float | None], args: argparse.Namespace) -> list[str]:
    """One table row: the throughput run's figures, the latency run's errors."""
    rps = whole = in_run = server = p50 = p99 = "-"
    ratios = ["-"] * len(references)
    if run := row.throughput:
        m, whole_value = run.measured, per_cpu(run)
        rps = f"{m.rps:,.0f}"
        whole = f"{whole_value:,.0f}" if whole_value else "-"
        ratios = [ratio(whole_value, reference) for reference in references]
        if run.in_run_cpu_s:
            in_run = f"{m.requests / run.in_run_cpu_s:,.0f}"
        server = f"{100 * run.server_cpu_s / args.seconds:.0f}"
    if run := row.latency:
        p50 = f"{run.measured.p50_ms - args.delay_ms:+.2f}"
        p99 = f"{run.measured.p99_ms - args.delay_ms:+.2f}"
    other = " / ".join(
        f"{100 * run.other_cpu_s / run.wall_s:.0f}" if run else "-"
        for run in (row.throughput, row.latency)
    )
    return [row.name, rps, whole, *ratios, in_run, server, other, p50, p99]


REFERENCES = ("wrk", "k6")  # the headline column is also given as a ratio to these rows'


def render(rows: list[Row], args: argparse.Namespace, env: dict[str, str]) -> str:
    by_name = {row.name: row.throughput for row in rows}
    references = [per_cpu(run) if (run := by_name.get(name)) else None for name in REFERENCES]
    lines = [
        f"perfrun vs other load generators, {env['date']}",
        "",
        *(f"- {key}: {value}" for key, value in env.items() if key != "date"),
        f"- throughput: nginx 1 worker, GET / (3-byte body"
        f"{', an X-Request-Id in every head' if args.request_id else ''}), "
        f"{args.connections} connections, "
        f"{args.seconds} s; latency: tests/servers/target.py --delay-ms {args.delay_ms:g}, "
        f"{args.latency_connections} connections, {args.seconds} s",
        "",
        "| generator | req/s | whole-process req/CPU-s | "
        + " | ".join(f"ratio to {name}" for name in REFERENCES)
        + " | in-run req/CPU-s | server CPU % | other CPU % thr / lat | p50 error ms "
        "| p99 error ms |",
        "|---|" + "--:|" * (7 + len(REFERENCES)),
    ]
    lines += ["| " + " | ".join(cells(row, references, args)) + " |" for row in rows]
    lines += [
        "",
        "- whole-process req/CPU-s (the headline): requests ÷ the user+sys CPU of the "
        "generator's process from start to exit (wait4 rusage: the process and the children "
        "it waited for), interpreter start-up, imports and script compilation included "
        "(Python tools import from their bytecode cache, as installed); the same measurement "
        "for every tool. The ratios divide it by wrk's and k6's, same run.",
        "- in-run req/CPU-s: requests ÷ the generator's CPU during the load only. perfrun: its "
        "own monitor (report resources.generator.cpu_percent.avg × duration_s: its process, "
        "and its workers with --workers > 1); Locust: its process CPU sampled every 0.1 s, "
        "between its first and last request; '-' for the tools that tell neither.",
        "- server CPU: nginx's CPU over the run, % of one core: near 100 the server, not the "
        "generator, was the limit. other CPU: every other process on the machine during the "
        "throughput / the latency run, % of one core: above ~10 the row was disturbed.",
        "- latency error = percentile - delay, closed loop (no coordinated-omission "
        "correction, fine for a fixed-delay server). Resolution: ab 1 ms, Locust 1 ms "
        "buckets, hey 0.1 ms, wrk 0.01 ms, perfrun 0.001 ms, k6 1 ns.",
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
    parser.add_argument("--seconds", type=int, default=10, help="length of every run")
    parser.add_argument("--connections", type=int, default=50, help="throughput concurrency")
    parser.add_argument("--latency-connections", type=int, default=10)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="fixed server delay")
    parser.add_argument(
        "--engines",
        default="httpx,fast",
        help="perfrun engines: httpx, fast, fast-plain (no cookies or redirects); '' = none",
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="other generators to run")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        metavar="S",
        help="before each run, wait up to S s for other processes to go quiet (shared machines)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every generator this many times, interleaved, and report each one's median "
        "run (throughput by whole-process req/CPU-s, latency by p99): for noisy machines",
    )
    parser.add_argument(
        "--request-id",
        action="store_true",
        help="nginx adds an X-Request-Id to every response: no two heads are the same",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    args.engines = [e for e in args.engines.split(",") if e]
    args.tools = [t for t in args.tools.split(",") if t]
    if unknown := set(args.tools) - set(TOOLS):
        parser.error(f"unknown tools {sorted(unknown)}; known: {', '.join(TOOLS)}")
    if args.seconds < 1 or args.connections < 1 or args.latency_connections < 1:
        parser.error("--seconds and the connection counts must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
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
    """Every generator against the server on `port`, `args.rounds` times interleaved (each
    row keeps its median run); a failure is a note on its row."""
    runs: list[list[Run]] = [[] for _ in tools]
    for round_ in range(args.rounds):
        for index, (tool, row) in enumerate(zip(tools, rows, strict=True)):
            work = tmp / f"{phase}-{index}-{round_}"
            if args.quiet_wait and not wait_until_quiet(args.quiet_wait):
                row.notes.append(f"{phase}: other processes kept the machine busy")
            try:
                run = run_tool(
                    tool, f"http://127.0.0.1:{port}", conns, args.seconds, server_pid, work
                )
            except (ToolFailed, OSError, ValueError, KeyError, psutil.Error) as exc:
                row.notes.append(f"{phase} failed: {type(exc).__name__}: {exc}")
                print(f"  {row.name}: {phase} failed: {exc}", file=sys.stderr)
                continue
            runs[index].append(run)
    for row, done in zip(rows, runs, strict=True):
        if not done:
            continue
        key = (lambda r: per_cpu(r) or 0.0) if phase == "throughput" else _p99
        ordered = sorted(done, key=key)
        setattr(row, phase, ordered[(len(ordered) - 1) // 2])
        if len(done) > 1 and phase == "throughput":
            figures = ", ".join(f"{per_cpu(r) or 0:,.0f}" for r in done)
            row.notes.append(f"throughput rounds, whole-process req/CPU-s: {figures}")


def _p99(run: Run) -> float:
    return run.measured.p99_ms


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops the bench like Ctrl-C: the finally blocks stop every server."""
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    options = perfrun_options()
    compile_perfrun()
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
                with nginx(tmp, port, args.request_id) as pid:
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
