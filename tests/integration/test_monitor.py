"""perfrun.execution.monitor.Monitor and find_process on real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest

from perfrun.errors import TargetError
from perfrun.execution.monitor import Monitor, MonitorResult, find_process
from tests.servers.launch import TARGET_SCRIPT, TargetProcess
from tests.support.perfrun_cli import StartTarget


def monitored(process: psutil.Process | None, interval: float, seconds: float) -> MonitorResult:
    monitor = Monitor(process, interval)
    monitor.start()
    time.sleep(seconds)
    return monitor.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `condition()` holds: however long a busy machine takes to get there."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def assert_samples_tile_the_run(result: MonitorResult) -> None:
    """The samples follow the interval, however late a busy machine wakes the thread: each
    but the last (folded into the one before when under half an interval) spans at least
    an interval, back to back from the start to the last one, and they are no fewer than
    one per two intervals: sampling that ignored the interval (every 1 s, the default,
    instead of 0.1 s) would be, for no thread wakes a whole interval late on average."""
    spans = [sample.dt for sample in result.samples]
    assert all(dt >= result.interval - 0.001 for dt in spans[:-1]), spans
    assert spans[-1] >= result.interval / 2 - 0.001, spans
    # Each span and time is rounded to the ms, a folded span once more.
    assert abs(sum(spans) - result.samples[-1].t) <= 0.001 * (len(spans) + 1), spans
    assert result.samples[-1].t <= result.wall_seconds
    assert len(spans) >= result.wall_seconds / (2 * result.interval), spans


def test_monitor_samples_about_once_per_interval(plain_target: TargetProcess) -> None:
    result = monitored(psutil.Process(plain_target.pid), interval=0.1, seconds=1.0)

    assert_samples_tile_the_run(result)
    assert len(result.samples) <= result.wall_seconds / 0.1 + 1  # one final sample at stop
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

    assert_samples_tile_the_run(result)
    # CPU time of the sampling thread itself (thread_time): waiting for a busy machine's
    # cores does not count, only the work of a sample (~1-3 ms of /proc reads per second).
    assert result.overhead_percent < 1.0, (
        f"{result.overhead_cpu_seconds * 1000 / len(result.samples):.1f} ms CPU per sample"
    )


def test_monitor_keeps_a_bounded_record_that_still_tiles_the_run(
    plain_target: TargetProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("perfrun.execution.monitor.MAX_SAMPLES", 8)
    result = monitored(psutil.Process(plain_target.pid), interval=0.02, seconds=1.0)

    # ~50 samples taken, folded pairwise each time there were more than 8.
    assert 4 <= len(result.samples) <= 9, [s.dt for s in result.samples]
    spans = [sample.dt for sample in result.samples]
    assert abs(sum(spans) - result.samples[-1].t) <= 0.001 * 60, spans
    assert result.samples[-1].t <= result.wall_seconds
    assert max(spans[:-1]) > 2 * result.interval  # folded spans


def test_polled_monitor_samples_when_polled_and_at_stop(plain_target: TargetProcess) -> None:
    threads_before_monitor = threading.active_count()
    monitor = Monitor(psutil.Process(plain_target.pid), 0.05, threaded=False)
    monitor.start()
    for _ in range(3):
        time.sleep(0.06)
        monitor.poll()
    time.sleep(0.06)
    result = monitor.stop()

    assert threading.active_count() == threads_before_monitor
    assert len(result.samples) == 4  # three polls and the last one at stop
    assert_samples_tile_the_run(result)
    assert all(s.target_memory_mb for s in result.samples)
    monitor.poll()  # after stop: nothing more
    assert len(monitor.stop().samples) == 4


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
    # Not fixed sleeps: a busy machine may wake the sampling thread late. A sample of the
    # live target first, then one after it is gone (a fold of the final sample into it
    # keeps a gauge's peak, so the loss must show in a whole one).
    wait_for(lambda: monitor.latest() is not None)
    server.stop()  # terminated and reaped
    wait_for(lambda: (latest := monitor.latest()) is not None and latest.target_memory_mb is None)
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
    # reaps it at the end, so until then it is a zombie with no memory and no CPU. Sampled
    # until it is one (however long a busy machine takes to start it and let it exit),
    # then once more at stop.
    child = psutil.Process(unreaped_child.pid)
    monitor = Monitor(child, 0.1)
    monitor.start()
    wait_for(lambda: child.status() == psutil.STATUS_ZOMBIE)
    result = monitor.stop()

    assert child.status() == psutil.STATUS_ZOMBIE
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
        "from perfrun.execution.monitor import find_process\n"
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
