"""`--out jsonl=FILE[.gz]` and `--out csv=FILE` on real loads: one line per request the
report counts, in one process or joined from workers' parts, per-second rows that add up
to the report's totals, and a valid file after an interrupt. Driven through
`perfrun.app.run` (the CLI options are wired separately)."""

from __future__ import annotations

import csv
import gzip
import json
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from perfrun import app
from perfrun.app import RunConfig, Selection
from perfrun.execution.outcome import DataOut, OutKind, RunOptions
from perfrun.metrics.streamed import ALL_ENDPOINTS, CSV_HEADER
from perfrun.report.model import RunReport
from perfrun.report.progress import QuietProgress
from tests.servers.launch import TargetProcess
from tests.support.bounds import connected
from tests.support.perfrun_cli import StartTarget, scenario, scenario_with_load, write_scenarios

FIELDS = ["ts", "scenario", "endpoint", "latency_ms", "ok", "status", "error", "bytes", "warmup"]


def _run(directory: Path, workers: int, *outs: DataOut) -> RunReport:
    options = RunOptions(workers=workers, data_out=outs)
    config = RunConfig(selection=Selection(directory=directory), options=options)
    return app.run(config, QuietProgress())


def _lines(path: Path) -> list[dict[str, Any]]:
    text = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in text.splitlines()]


def _names(directory: Path) -> list[str]:
    """What is in `directory`: no worker's part is left behind."""
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("workers", [1, 2])
def test_every_request_counted_is_one_line_and_the_seconds_add_up(
    workers: int, target: StartTarget, tmp_path: Path
) -> None:
    failing = target("--fail-every", "7")
    mix: list[dict[str, Any]] = [
        {"name": "a", "path": "/a", "weight": 3},
        {"name": "b", "path": "/b"},
    ]
    write_scenarios(
        tmp_path / "scenarios",
        {
            "first": scenario(failing.url, users=4, requests_per_user=150, requests=mix),
            # Lean closed-model callbacks (no per-user state), not the flow's.
            "second": {
                **scenario(failing.url, users=2, requests_per_user=50),
                "cookies": False,
                "max_redirects": 0,
            },
        },
    )
    jsonl, table = tmp_path / "requests.jsonl.gz", tmp_path / "seconds.csv"
    started = time.time()
    report = _run(
        tmp_path / "scenarios", workers, DataOut(OutKind.JSONL, str(jsonl)),
        DataOut(OutKind.CSV, str(table)),
    )  # fmt: skip
    ended = time.time()

    lines = _lines(jsonl)  # gzip reads every member: a worker's part is one
    assert {s.name: s.requests.total for s in report.scenarios} == {"first": 600, "second": 100}
    assert Counter(line["scenario"] for line in lines) == {"first": 600, "second": 100}
    assert all(list(line) == FIELDS for line in lines)
    for s in report.scenarios:
        mine = [line for line in lines if line["scenario"] == s.name]
        assert sum(not line["ok"] for line in mine) == s.requests.failed > 0
        assert sum(line["bytes"] for line in mine) == s.requests.bytes_received
        by_endpoint = Counter(line["endpoint"] for line in mine)
        assert by_endpoint == {e.name: e.requests.total for e in s.endpoints}
    assert {(line["ok"], line["status"], line["error"]) for line in lines} == {
        (True, 200, None), (False, 500, "http_5xx"),
    }  # fmt: skip
    assert all(started <= line["ts"] <= ended for line in lines)
    assert all(0.0 < line["latency_ms"] < (ended - started) * 1000 for line in lines)
    assert not any(line["warmup"] for line in lines)
    assert _names(tmp_path) == ["requests.jsonl.gz", "scenarios", "seconds.csv"]

    with table.open(newline="") as f:
        assert next(csv.reader(f)) == list(CSV_HEADER)  # one header for the run
        f.seek(0)
        rows = list(csv.DictReader(f))
    for s in report.scenarios:
        everything = [r for r in rows if r["scenario"] == s.name and r["endpoint"] == ALL_ENDPOINTS]
        assert sum(int(r["requests"]) for r in everything) == s.requests.total
        assert sum(int(r["errors"]) for r in everything) == s.requests.failed
        assert sum(int(r["bytes"]) for r in everything) == s.requests.bytes_received
        assert [int(r["requests"]) for r in everything] == [p.requests for p in s.timeline]
        for e in s.endpoints:
            mine = [r for r in rows if r["scenario"] == s.name and r["endpoint"] == e.name]
            assert sum(int(r["requests"]) for r in mine) == e.requests.total
    assert all(float(r["p50_ms"]) <= float(r["p99_ms"]) for r in rows if r["p50_ms"])


@pytest.mark.parametrize("load", ["lean", "flow", "open"])
def test_a_success_among_several_expected_statuses_carries_its_own(
    load: str, plain_target: TargetProcess, tmp_path: Path
) -> None:
    """An endpoint expecting several statuses (as quick mode's any 2xx): each success's
    line still says which one came, on the fast engine's three success paths."""
    request = {"name": "root", "path": "/", "expect_status": [200, 201, 204]}
    body = scenario(plain_target.url, users=2, requests_per_user=20, requests=[request])
    if load == "lean":
        body = {**body, "cookies": False, "max_redirects": 0}
    elif load == "open":
        body = {**body, "load": {"rate": 50, "duration": "1s"}}
    write_scenarios(tmp_path / "scenarios", {"several": {**body, "engine": "fast"}})
    jsonl = tmp_path / "requests.jsonl"
    report = _run(tmp_path / "scenarios", 1, DataOut(OutKind.JSONL, str(jsonl)))

    lines = _lines(jsonl)
    assert len(lines) == report.scenarios[0].requests.total > 0
    assert {(line["ok"], line["status"]) for line in lines} == {(True, 200)}


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_an_open_models_warm_up_requests_are_flagged(
    engine: str, plain_target: TargetProcess, tmp_path: Path
) -> None:
    """The open model's paths: the fast engine's schedule (`ok`, with each request's
    send delay), and httpx's, where every success is a RequestResult (`record`)."""
    body = scenario_with_load(plain_target.url, {"rate": 100, "duration": "2s", "warmup": "1s"})
    write_scenarios(tmp_path / "scenarios", {"open": {**body, "engine": engine}})
    jsonl = tmp_path / "requests.jsonl"
    report = _run(tmp_path / "scenarios", 1, DataOut(OutKind.JSONL, str(jsonl)))

    (s,) = report.scenarios
    assert s.warmup is not None
    lines = _lines(jsonl)
    warm = [line for line in lines if line["warmup"]]
    assert len(warm) == s.warmup.requests.total > 0
    assert len(lines) - len(warm) == s.requests.total > 0
    assert all(line["ok"] and line["status"] == 200 for line in lines)
    # Warm-up: intended in the first second, before any measured request (the open
    # model's intended times are its schedule's, however late a request went out).
    measured = [line["ts"] for line in lines if not line["warmup"]]
    assert max(line["ts"] for line in warm) < min(measured)
    assert max(line["ts"] for line in warm) - min(line["ts"] for line in warm) < 1.0


_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from perfrun import app
    from perfrun.app import RunConfig, Selection
    from perfrun.report.progress import QuietProgress
    from perfrun.execution.outcome import DataOut, OutKind, RunOptions

    if __name__ == "__main__":
        directory, jsonl, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
        options = RunOptions(workers=workers, data_out=(DataOut(OutKind.JSONL, jsonl),))
        config = RunConfig(selection=Selection(directory=directory), options=options)
        report = app.run(config, QuietProgress())
        print(json.dumps({"interrupted": report.interrupted,
                          "total": [s.requests.total for s in report.scenarios]}))
    """
)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_run_leaves_a_valid_gzip_of_what_was_measured(
    workers: int, plain_target: TargetProcess, tmp_path: Path
) -> None:
    write_scenarios(
        tmp_path / "scenarios",
        {"long": scenario(plain_target.url, users=2, duration="30s", think_time="2ms")},
    )
    script, jsonl = tmp_path / "child.py", tmp_path / "requests.jsonl.gz"
    script.write_text(_CHILD)
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "scenarios"), str(jsonl), str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    port = urlsplit(plain_target.url).port or 0
    deadline = time.monotonic() + 20
    while not _sending(process.pid, port):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    time.sleep(0.5)

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    told = json.loads(stdout)
    assert told["interrupted"] is True
    (total,) = told["total"]
    assert total > 0
    assert len(_lines(jsonl)) == total  # a valid gzip (trailer and CRC), every line whole
    assert _names(tmp_path) == ["child.py", "requests.jsonl.gz", "scenarios"]


def _sending(pid: int, port: int) -> bool:
    """Whether the process or one of its workers holds a connection to `port`."""
    try:
        pids = [pid, *(c.pid for c in psutil.Process(pid).children())]
    except psutil.Error:
        return False
    return bool(connected(pids, port))
