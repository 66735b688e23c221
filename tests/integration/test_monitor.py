"""perfrun.run.monitor.Monitor and find_process on real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from perfrun.errors import TargetError
from perfrun.judge.build import measure_scenario
from perfrun.metrics.stats import ScenarioStats
from perfrun.run.monitor import Monitor, MonitorResult, find_process
from perfrun.run.outcome import ScenarioOutcome
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import ScenarioStatus
from tests.servers.launch import TARGET_SCRIPT, TargetProcess
from tests.support.factories import sample as a_sample
from tests.support.perfrun_cli import StartTarget, scenario, write_scenarios


def monitored(process: psutil.Process | None, interval: float, seconds: float) -> MonitorResult:
    monitor = Monitor(process, interval)
    monitor.start()
    time.sleep(seconds)
    return monitor.stop()


def test_monitor_samples_about_once_per_interval(plain_target: TargetProcess) -> None:
    result = monitored(psutil.Process(plain_target.pid), interval=0.1, seconds=1.0)

    expected = result.wall_seconds / 0.1  # and one final sample at stop
    assert 0.6 * expected <= len(result.samples) <= expected + 1
    assert result.target_pid == plain_target.pid
    assert result.target_lost is False
    times = [s.t for s in result.samples]
    assert times == sorted(times)
    assert times[-1] <= result.wall_seconds
    for sample in result.samples:
        assert sample.dt > 0
        assert sample.target_memory_mb is not None and sample.target_memory_mb > 0
        assert sample.target_processes == 1
        assert sample.generator_memory_mb > 0


def test_monitor_overhead_is_well_under_1_percent_at_the_default_interval(
    plain_target: TargetProcess,
) -> None:
    result = monitored(psutil.Process(plain_target.pid), interval=1.0, seconds=3.0)

    assert len(result.samples) >= 3
    assert result.overhead_percent < 1.0, (
        f"{result.overhead_cpu_seconds * 1000 / len(result.samples):.1f} ms CPU per sample"
    )


def test_monitor_without_target_samples_system_and_generator_only() -> None:
    result = monitored(None, interval=0.1, seconds=0.3)

    assert result.target_pid is None
    assert result.samples
    for sample in result.samples:
        assert sample.target_memory_mb is None
        assert sample.target_cpu_percent is None
        assert 0 <= sample.system_cpu_percent <= 100
        assert sample.generator_memory_mb > 0


def test_monitor_marks_the_target_lost_when_it_exits_mid_run(target: StartTarget) -> None:
    server = target()
    monitor = Monitor(psutil.Process(server.pid), 0.1)
    monitor.start()
    time.sleep(0.35)
    server.stop()  # terminated and reaped
    time.sleep(0.35)
    result = monitor.stop()

    assert result.target_lost is True
    assert result.target_pid == server.pid
    memory = [s.target_memory_mb for s in result.samples]
    assert memory[0] is not None and memory[0] > 0
    assert memory[-1] is None


@pytest.fixture()
def unreaped_child() -> Iterator[subprocess.Popen[bytes]]:
    """A child that exits after 0.4 s and is only reaped at teardown: a zombie until then."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.4)"])
    yield process
    process.wait()


def test_monitor_marks_an_exited_but_unreaped_target_lost(
    unreaped_child: subprocess.Popen[bytes],
) -> None:
    # What a demo target that crashes mid-run looks like: perfrun is its parent and only
    # reaps it at the end, so until then it is a zombie with no memory and no CPU.
    result = monitored(psutil.Process(unreaped_child.pid), interval=0.1, seconds=1.0)

    assert psutil.Process(unreaped_child.pid).status() == psutil.STATUS_ZOMBIE
    assert result.target_lost is True
    memory = [s.target_memory_mb for s in result.samples]
    assert 0.0 not in memory, memory  # a zombie's 0 MB is not a measurement


def test_monitor_sums_the_target_process_tree() -> None:
    # A parent holding nothing that runs a worker holding 80 MB, like a pre-fork server.
    wrapper = (
        "import subprocess, sys; "
        f"subprocess.run([sys.executable, {str(TARGET_SCRIPT)!r}, '--alloc-mb', '80'])"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", wrapper], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().startswith(b"LISTENING ")  # the worker is ready
        result = monitored(psutil.Process(parent.pid), interval=0.1, seconds=0.3)
    finally:
        os.killpg(parent.pid, signal.SIGTERM)
        parent.wait(10)
        assert parent.stdout is not None
        parent.stdout.close()

    last = result.samples[-1]
    assert last.target_processes == 2
    assert last.target_memory_mb is not None and last.target_memory_mb >= 80


def test_find_process_matches_the_command_line(target: StartTarget) -> None:
    marker = f"0.{uuid.uuid4().int % 10**9:09d}"
    server = target("--delay-ms", marker)

    assert find_process(f"--delay-ms {marker}").pid == server.pid
    assert find_process(marker).pid == server.pid


def test_find_process_matching_nothing_raises_target_error_naming_the_pattern() -> None:
    marker = f"no-such-process-{uuid.uuid4().hex}"
    with pytest.raises(TargetError, match=marker):
        find_process(marker)


def test_find_process_never_picks_the_perfrun_process_itself() -> None:
    # The marker is on the child's own command line, and on no other process's.
    marker = f"only-me-{uuid.uuid4().hex}"
    code = (
        "import sys\n"
        "from perfrun.errors import TargetError\n"
        "from perfrun.run.monitor import find_process\n"
        "try:\n"
        "    print(find_process(sys.argv[1]).pid)\n"
        "except TargetError:\n"
        "    print('no match')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, marker], capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no match"


def test_a_reports_samples_are_timed_from_the_loads_start(tmp_path: Path) -> None:
    # The monitor starts 0.25 s before the load (with workers, their spawning lies between):
    # in the report, samples share the timeline's axis, which starts with the load.
    path = write_scenarios(tmp_path, {"s": scenario("http://127.0.0.1:1", users=1)})
    (spec,) = load_file(path)
    monitor = MonitorResult(
        target_pid=None,
        target_name=None,
        target_lost=False,
        interval=1.0,
        samples=(a_sample(1.0), a_sample(2.0), a_sample(2.6)),
        overhead_cpu_seconds=0.0,
        wall_seconds=2.6,
        started=100.0,
    )
    now = datetime.now(UTC)
    outcome = ScenarioOutcome(
        spec, "http://127.0.0.1:1", "fast", now, now, ScenarioStatus.COMPLETED, "",
        ScenarioStats(origin=100.25), monitor,
    )  # fmt: skip
    report = measure_scenario(outcome)
    assert report.resources is not None
    assert [s.t for s in report.resources.samples] == [0.75, 1.75, 2.35]
