"""Open model at a high rate: does perfrun send every request on time from one core?

Starts nginx pinned to CPU 0 (`GET /` -> `ok`, as compare.py does) and runs
`python -m perfrun` pinned to CPU 1 on an open-model scenario at --rate requests/s for
--seconds, --runs times. Prints, per run, the schedule (due, sent, late: sent more than
10 ms after the intended time, capped, dropped), the send delay, perfrun's CPU (its
own monitor) and whether it flagged itself saturated. The goal (issue 9): 20,000/s with
sent == due and under 0.1 % late.

A benchmark, not a timed test: 127.0.0.1 only, each perfrun killed after --seconds + 60 s,
nginx stopped on the way out (Ctrl-C and SIGTERM included).

    python bench/open_rate.py [--rate 20000] [--seconds 10] [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

# bench/ is not a package: `python bench/open_rate.py` puts bench/ first on sys.path.
from processes import CLIENT_CPU, TOOL_ENV, compile_perfrun, free_port, nginx, pinned

GRACE_S = 60


def run_once(port: int, rate: int, seconds: int, work: Path) -> dict[str, Any]:
    scenarios = work / "scenarios"
    scenarios.mkdir(parents=True)
    (scenarios / "open.yaml").write_text(
        textwrap.dedent(f"""\
            scenarios:
              open_rate:
                type: load
                severity: low
                base_url: http://127.0.0.1:{port}
                requests: [{{name: root, path: /}}]
                load: {{rate: {rate}, duration: {seconds}s}}
        """)
    )
    report = work / "report.json"
    argv = [sys.executable, "-m", "perfrun", "--engine", "fast", "--scenarios-dir",
            str(scenarios), "--output", str(report), "-q"]  # fmt: skip
    subprocess.run(pinned(argv, CLIENT_CPU), env=TOOL_ENV, stdout=subprocess.DEVNULL,
                   timeout=seconds + GRACE_S, check=False)  # fmt: skip
    s = json.loads(report.read_text())["scenarios"][0]
    schedule = s["schedule"]
    return {
        "due": schedule["due"],
        "sent": schedule["sent"],
        "late": schedule["late"],
        "late_percent": round(100 * schedule["late"] / max(schedule["sent"], 1), 3),
        "capped": schedule["capped"],
        "dropped": schedule["dropped"],
        "send_delay_p50_ms": schedule["send_delay_ms"]["p50"],
        "send_delay_p99_ms": schedule["send_delay_ms"]["p99"],
        "generator_cpu_percent": s["generator"]["cpu_percent"],
        "saturated": s["generator"]["saturated"],
        "latency_p50_ms": s["latency_ms"]["p50"],
        "latency_p99_ms": s["latency_ms"]["p99"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args()
    compile_perfrun()
    results = []
    with tempfile.TemporaryDirectory(prefix="perfrun-open-rate-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        with nginx(tmp, port):
            for i in range(args.runs):
                result = run_once(port, args.rate, args.seconds, tmp / f"run-{i}")
                results.append(result)
                print(json.dumps(result), flush=True)
    ok = [r["sent"] == r["due"] and r["late_percent"] < 0.1 for r in results]
    print(f"{args.rate}/s for {args.seconds} s: {sum(ok)} of {len(ok)} runs with sent == due "
          "and < 0.1 % late")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"rate": args.rate, "seconds": args.seconds,
                                         "runs": results}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
