"""`--out jsonl`: does perfrun's memory stay flat while it streams every request, and what
does the hook cost in throughput?

Starts a target on 127.0.0.1 (nginx pinned to CPU 0 when installed, else
tests/servers/target.py), then runs perfrun (pinned to CPU 1) on a closed-model scenario of
--requests requests, once per mode, the modes interleaved over --rounds rounds: `off` (no
--out: plain ScenarioStats), `jsonl`, `jsonl.gz`, `csv`. Each run is a child Python process
calling `perfrun.app.run` with `RunOptions(data_out=...)` (the same path as `--out`), and
this script samples the RSS of the child's process tree every --every seconds. Prints, per
mode, the median req/s (the report's), its cost against `off`, perfrun's CPU per request
(its best run: less sensitive to a busy machine) and its increase over `off`, RSS after
the first fifth of the run, at its end and at most, and the file's size and lines
(checked against the report). Then the hook's own CPU per recorded success, in this
process (`hook_cost_ns`).

A benchmark, not a timed test: 127.0.0.1 only, each child killed after --timeout s.

    python bench/jsonl_rss.py [--requests 100000] [--users 20] [--rounds 3]
        [--workers 1] [--server auto|nginx|target] [--json jsonl_rss.json]

Set PYTHONPATH to measure another checkout (e.g. a `git worktree` of an older commit).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

# bench/ is not a package: `python bench/jsonl_rss.py` puts bench/ first on sys.path.
from processes import CLIENT_CPU, TARGET_SCRIPT, free_port, nginx, pinned, serving, stop

MODES = ("off", "jsonl", "jsonl.gz", "csv")

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from perfrun import app
    from perfrun.app import RunConfig, Selection
    from perfrun.report.progress import QuietProgress
    from perfrun.execution.outcome import DataOut, OutKind, RunOptions

    if __name__ == "__main__":
        directory, workers, kind, where = Path(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:5]
        outs = () if kind == "off" else (DataOut(OutKind(kind), where),)
        options = RunOptions(workers=workers, data_out=outs)
        report = app.run(RunConfig(Selection(directory=directory), options), QuietProgress())
        (s,) = report.scenarios
        cpu = sum(u.ru_utime + u.ru_stime for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),  # the workers
        ))
        print(json.dumps({"total": s.requests.total, "rps": s.requests.rps, "cpu_s": cpu}))
    """
)


@dataclass(frozen=True)
class Sample:
    mode: str
    rps: float
    requests: int
    cpu_us_per_request: float
    """perfrun's CPU (user+sys, its workers' included, start-up too) per request: less
    sensitive than req/s to what else runs on the machine."""
    wall_s: float
    rss_early_mb: float
    """The tree's RSS once a fifth of the run's wall time had passed (imports, pools and
    buffers in place)."""
    rss_end_mb: float
    rss_max_mb: float
    file_mb: float | None
    lines: int | None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode, interleaved")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--every", type=float, default=0.2, help="RSS sample period, s")
    parser.add_argument("--timeout", type=float, default=300.0, help="kill a run after, s")
    parser.add_argument("--server", choices=("auto", "nginx", "target"), default="auto")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    return parser.parse_args()


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants (workers)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


def run_once(mode: str, directory: Path, work: Path, args: argparse.Namespace) -> Sample:
    kind = "off" if mode == "off" else mode.split(".")[0]
    where = work / f"out.{mode}"
    where.unlink(missing_ok=True)
    argv = [sys.executable, "-c", CHILD, str(directory), str(args.workers), kind, str(where)]
    started = time.monotonic()
    proc = subprocess.Popen(
        pinned(argv, CLIENT_CPU), stdout=subprocess.PIPE, start_new_session=True
    )
    samples: list[tuple[float, int]] = []
    try:
        while proc.poll() is None:
            if time.monotonic() - started > args.timeout:
                raise TimeoutError(f"{mode}: no end after {args.timeout} s")
            rss = tree_rss(proc.pid)
            if rss:  # 0: it has just exited
                samples.append((time.monotonic() - started, rss))
            time.sleep(args.every)
        out, _ = proc.communicate()
    finally:
        stop(proc)
    wall = time.monotonic() - started
    told = json.loads(out.decode().strip().splitlines()[-1])
    early = next((rss for t, rss in samples if t >= wall / 5), samples[-1][1])
    lines = None
    if mode != "off":
        data = where.read_bytes()
        text = gzip.decompress(data) if mode.endswith(".gz") else data
        lines = text.count(b"\n") - (1 if kind == "csv" else 0)
        if kind == "jsonl" and lines != told["total"]:
            raise AssertionError(f"{mode}: {lines} lines for {told['total']} requests")
    mb = 1024 * 1024
    return Sample(
        mode, told["rps"], told["total"], told["cpu_s"] / told["total"] * 1e6, wall,
        early / mb, samples[-1][1] / mb, max(rss for _, rss in samples) / mb,
        where.stat().st_size / mb if mode != "off" else None, lines,
    )  # fmt: skip


def hook_cost_ns(calls: int = 200_000, repeats: int = 5) -> dict[str, float]:
    """CPU ns of one `ok` (the fast engine's success path) on plain ScenarioStats (what a
    run without --out records into) and on StreamedStats for each output, in this
    process, without a file (`write` drops the chunks): the hook's own cost, best of
    `repeats` (the least disturbed by the rest of the machine)."""
    from perfrun.metrics.stats import ScenarioStats
    from perfrun.metrics.streamed import StreamedStats

    def drop(_: str) -> None:
        pass

    makers: dict[str, Callable[[], ScenarioStats]] = {
        "off": lambda: ScenarioStats(0.0),
        "jsonl": lambda: StreamedStats(0.0, scenario="s", write=drop),
        "csv": lambda: StreamedStats(0.0, scenario="s", per_second=True),
        "both": lambda: StreamedStats(0.0, scenario="s", write=drop, per_second=True),
    }
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, make in makers.items():
            stats = make()
            endpoint = stats.endpoint("root")
            began = time.process_time()
            for i in range(calls):
                at = i * 1e-5  # 100,000 requests a second, 0.5 ms each
                stats.ok(endpoint, at, at + 0.0005, 0.0, 612, at, at + 0.0004, 200)
            ns = (time.process_time() - began) / calls * 1e9
            best[name] = min(best.get(name, ns), ns)
    return best


def scenario_yaml(url: str, users: int, requests: int) -> str:
    per_user = max(requests // users, 1)
    return textwrap.dedent(
        f"""\
        scenarios:
          bench:
            type: load
            base_url: {url}
            thresholds: none
            requests:
              - name: root
                path: /
            load:
              users: {users}
              requests_per_user: {per_user}
        """
    )


def main() -> None:
    args = parse_args()
    use_nginx = args.server == "nginx" or (args.server == "auto" and shutil.which("nginx"))
    results: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="jsonl-rss-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        server = (
            nginx(tmp, port)
            if use_nginx
            else serving(
                [sys.executable, str(TARGET_SCRIPT), "--port", str(port)], port, tmp / "target.log"
            )
        )
        with server:
            directory = tmp / "scenarios"
            directory.mkdir()
            yaml = scenario_yaml(f"http://127.0.0.1:{port}", args.users, args.requests)
            (directory / "bench.yaml").write_text(yaml)
            for round_ in range(args.rounds):
                for mode in MODES[round_ % len(MODES) :] + MODES[: round_ % len(MODES)]:
                    sample = run_once(mode, directory, tmp, args)
                    print(f"  {asdict(sample)}", file=sys.stderr, flush=True)
                    results.append(sample)
    report(results, "nginx" if use_nginx else "target.py")
    costs = hook_cost_ns()
    print("ScenarioStats.ok, CPU ns per call (best of 5): " + ", ".join(
        f"{name} {ns:.0f} ({ns - costs['off']:+.0f})" for name, ns in costs.items()
    ))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in results], indent=2))


def report(results: list[Sample], server: str) -> None:
    base = statistics.median(s.rps for s in results if s.mode == "off")
    # CPU: the best run, the least disturbed by the rest of the machine.
    base_cpu = min(s.cpu_us_per_request for s in results if s.mode == "off")
    print(f"server: {server}; median of {sum(s.mode == 'off' for s in results)} runs per mode")
    print(f"{'mode':9} {'req/s':>8} {'cost':>7} {'CPU µs/req':>10} {'+µs':>6} "
          f"{'RSS@1/5':>8} {'RSS end':>8} {'RSS max':>8} {'file MB':>8} {'lines':>8}")  # fmt: skip
    for mode in MODES:
        mine = [s for s in results if s.mode == mode]
        rps = statistics.median(s.rps for s in mine)
        cpu = min(s.cpu_us_per_request for s in mine)
        last = mine[-1]
        file_mb = f"{last.file_mb:.1f}" if last.file_mb is not None else "-"
        print(
            f"{mode:9} {rps:8.0f} {(base - rps) / base:+7.1%} {cpu:10.1f} {cpu - base_cpu:+6.1f} "
            f"{statistics.median(s.rss_early_mb for s in mine):8.1f} "
            f"{statistics.median(s.rss_end_mb for s in mine):8.1f} "
            f"{statistics.median(s.rss_max_mb for s in mine):8.1f} "
            f"{file_mb:>8} {last.lines if last.lines is not None else '-':>8}"
        )


if __name__ == "__main__":
    main()
