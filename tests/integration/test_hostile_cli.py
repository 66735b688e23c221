"""Hostile servers against the whole command, both engines: the right error kind per
endpoint, the verdict's exit code, no traceback, perfrun's RSS under 150 MB and a wall
time bounded by the timeouts it had to wait out (issue 14).

One flow visits every hostile endpoint of tests/servers/conformance.py in turn (a failed
step without captures does not end the iteration), so each is hit exactly `USERS` times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from perfrun.errors import EXIT_THRESHOLD_FAILED
from tests.servers.launch import start_target

CONFORMANCE = Path(__file__).parents[1] / "servers" / "conformance.py"
TIMEOUT_S = 2.0
USERS = 2
HUGE = 100_000_000

# (step name, path, a check that reads the body, the outcome: an error kind or None)
STEPS: list[tuple[str, str, bool, str | None]] = [
    ("huge_unread", f"/huge/{HUGE}", False, None),
    ("huge_checked", f"/huge/{HUGE}", True, "body_too_large"),
    ("endless_chunked", "/endless-chunked", False, "timeout"),
    ("endless_header", "/endless-header", False, "protocol"),
    ("long_header", "/long-header/1000000", False, "protocol"),
    ("bad_status", "/bad-status", False, "protocol"),
    ("bad_header", "/bad-header", False, "protocol"),
    ("close_after_headers", "/close-after-headers", False, "reset"),
    ("reset_mid_body", "/reset-mid-body", False, "reset"),
    ("trickle", "/trickle/500", False, "timeout"),
    ("stall", "/stall", False, "timeout"),
]
WAITED = sum(TIMEOUT_S for *_, kind in STEPS if kind == "timeout")
"""What each user must wait out: its timeouts, one after another."""


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with start_target(script=CONFORMANCE) as process:
        yield process.url


def _scenario(base_url: str, engine: str) -> dict[str, Any]:
    steps = []
    for name, path, checked, _ in STEPS:
        step: dict[str, Any] = {"name": name, "path": path}
        if checked:
            step["expect_body_contains"] = ["999999999"]  # never found: the body must be read
        steps.append(step)
    return {
        "base_url": base_url,
        "engine": engine,
        "flow": steps,
        "load": {"users": USERS, "iterations": 1, "timeout": f"{TIMEOUT_S}s"},
        "thresholds": {"min_success_rate": 100},
    }


class TreeRss:
    """The peak RSS of a process and its children, sampled every 10 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._process = psutil.Process(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            try:
                tree = [self._process, *self._process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                continue

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_hostile_servers_give_their_kinds_within_bounds(
    hostile: str, engine: str, tmp_path: Path
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    document = {"scenarios": {"hostile": _scenario(hostile, engine)}}
    (scenarios / "hostile.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    report_path = tmp_path / "report.json"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(scenarios),
         "-o", str(report_path), "-q"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    rss = TreeRss(process.pid)
    output, _ = process.communicate(timeout=120)
    wall, peak = time.monotonic() - started, rss.stop()
    text = output.decode(errors="replace")

    assert process.returncode == EXIT_THRESHOLD_FAILED, text
    assert "Traceback" not in text
    assert peak < 150 * 2**20, f"perfrun's peak RSS {peak / 2**20:.0f} MiB"
    # Start-up, the demo-free run and the report: a few seconds beside the timeouts.
    assert wall < WAITED + 15, f"{wall:.1f} s for {WAITED:.0f} s of timeouts"
    print(f"{engine}: peak RSS {peak / 2**20:.0f} MiB, {wall:.1f} s")
    endpoints = json.loads(report_path.read_text())["scenarios"][0]["endpoints"]
    for name, _, _, kind in STEPS:
        counts = endpoints[name]
        assert counts["requests"]["total"] == USERS, (name, counts["requests"])
        expected = {} if kind is None else {kind: USERS}
        assert counts["errors"] == expected, (name, counts["errors"])
    assert endpoints["huge_unread"]["requests"]["bytes_received"] == USERS * HUGE
