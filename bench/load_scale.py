"""Loading at scale: how long, and how much memory, a file of 100,000 scenarios (or one
scenario of 100,000 stages) takes to load, and `perfrun --list` on it.

Writes the files into a temporary directory, then runs each case in a child process,
one at a time: `load` (`load_scenarios` on the directory, timed inside the child, so
without interpreter start-up and imports), and `list` (`perfrun --list` as a user runs
it, timed from outside, start-up included). The CPU time (user + system: steadier
than the wall time on a busy machine) and the peak RSS of each are the child's
(`resource.getrusage(RUSAGE_CHILDREN)`, read by a small wrapper process per case, so
that one case's figures are not another's).

    python bench/load_scale.py [--scenarios 100000] [--stages 100000]
        [--cases scenarios,stages,list] [--json load_scale.json]

Set PYTHONPATH to measure another checkout (e.g. a `git worktree` of an older commit).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = """
import sys, time
from pathlib import Path
from perfrun.scenario.loader import load_scenarios
started = time.perf_counter()
loaded = load_scenarios(Path(sys.argv[1]), {})
print(len(loaded), sum(len(s.load.stages) for s in loaded.values()), time.perf_counter() - started)
"""

# Runs its argv, then prints its exit code, wall time, CPU time (user + system), peak RSS
# (KiB on Linux) and lines out.
WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
lines = done.stdout.count("\\n")
sys.stdout.write(f"{done.returncode} {wall} {cpu} {peak} {lines}\\n" + done.stdout[-2000:])
sys.stderr.write(done.stderr[-2000:])
"""


def scenarios_file(count: int) -> str:
    """`count` one-line scenarios, as a generated suite would write them (each its own
    path and users, so that nothing read once can stand for the next)."""
    lines = ["scenarios:"] + [
        f"  s{i}: {{requests: [{{path: /items/{i}}}], load: {{users: {i % 50 + 1}, duration: 1s}}}}"
        for i in range(count)
    ]
    return "\n".join(lines) + "\n"


def stages_file(count: int) -> str:
    """One scenario whose open load ramps through `count` stages."""
    stages = "".join(f"\n      - {{duration: 1s, rate: {i % 7 + 1}}}" for i in range(count))
    return f"scenarios:\n  staged:\n    requests: [{{path: /}}]\n    load:\n      stages:{stages}\n"


def measure(argv: list[str], where: str, timeout: float) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, lines written, the end of its output)
    of `argv` in a child process run in the directory `where` (not the checkout: `-c`
    and `-m` put the working directory first on `sys.path`, over PYTHONPATH)."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv],
        capture_output=True, text=True, timeout=timeout, check=True, cwd=where,
    )  # fmt: skip
    head, _, output = done.stdout.partition("\n")
    code, wall, cpu, peak, lines = head.split()
    if code != "0":
        raise SystemExit(f"{' '.join(argv[:3])}... exited {code}:\n{output}{done.stderr}")
    return float(wall), float(cpu), int(peak) / 1024, int(lines), output


def _perfrun_dir() -> str:
    """Where the children import perfrun from (they run outside any checkout)."""
    done = subprocess.run(
        [sys.executable, "-c", "import perfrun; print(perfrun.__file__)"],
        capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    return str(Path(done.stdout.strip()).parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--stages", type=int, default=100_000)
    parser.add_argument("--cases", default="scenarios,stages,list")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases = args.cases.split(",")
    results: dict[str, dict[str, float]] = {}
    print(f"perfrun from {_perfrun_dir()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="perfrun-load-scale-") as temp:
        many, staged = Path(temp, "many"), Path(temp, "staged")
        many.mkdir()
        staged.mkdir()
        (many / "many.yaml").write_text(scenarios_file(args.scenarios))
        (staged / "staged.yaml").write_text(stages_file(args.stages))
        for case in cases:
            if case == "list":
                argv = [sys.executable, "-m", "perfrun", "--list", "--scenarios-dir", str(many)]
                wall, cpu, peak, lines, _ = measure(argv, temp, args.timeout)
                loaded = f"{lines:,} lines listed"
                seconds = wall
            else:
                directory = many if case == "scenarios" else staged
                wall, cpu, peak, _, output = measure(
                    [sys.executable, "-c", LOAD, str(directory)], temp, args.timeout
                )
                count, stages, inner = output.split()
                loaded = f"{int(count):,} scenarios, {int(stages):,} stages"
                seconds = float(inner)
            results[case] = {"seconds": seconds, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak}
            print(
                f"{case:10} {seconds:6.2f} s (process {wall:6.2f} s, {cpu:6.2f} CPU-s)  "
                f"peak RSS {peak:7.1f} MB  [{loaded}]",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - started:.0f} s)")
