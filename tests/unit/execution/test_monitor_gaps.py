"""The monitor never dies of a sample it cannot take: the sample is a gap, counted, and
perfrun's own failure to read is never the target's."""

from __future__ import annotations

import errno
import os
import time

import psutil
import pytest

from perfrun.execution.monitor import Monitor


class _Flaky(psutil.Process):
    """This process, as a target whose reads fail while `failing` says so."""

    def __init__(self) -> None:
        super().__init__(os.getpid())
        self.failing: BaseException | None = None

    def num_threads(self) -> int:
        if self.failing is not None:
            raise self.failing
        return super().num_threads()


EMFILE = OSError(errno.EMFILE, "Too many open files")


@pytest.mark.parametrize(
    "error", [EMFILE, psutil.AccessDenied(os.getpid()), ValueError("a /proc line it cannot parse")]
)
def test_a_failed_sample_is_a_gap_and_the_target_is_not_lost(error: BaseException) -> None:
    target = _Flaky()
    monitor = Monitor(target, interval=0.05, threaded=False)
    monitor.start()
    time.sleep(0.05)
    monitor.poll()
    target.failing = error
    time.sleep(0.05)
    monitor.poll()  # raises nothing
    target.failing = None
    time.sleep(0.05)
    monitor.poll()
    result = monitor.stop()

    assert result.gaps == 1
    assert result.gap_reason is not None and type(error).__name__ in result.gap_reason
    assert result.target_lost is False
    first, after_gap = result.samples[0], result.samples[1]
    # The sample after the gap covers the gap's span too: no CPU-second is lost.
    assert after_gap.dt == pytest.approx(after_gap.t - first.t, abs=0.002)
    assert after_gap.dt >= 0.1
    assert after_gap.target_cpu_percent is not None


def test_the_sampling_thread_outlives_failing_system_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_files() -> None:
        raise EMFILE

    monitor = Monitor(None, interval=0.01, threaded=True)
    with monkeypatch.context() as patch:
        patch.setattr(psutil, "virtual_memory", no_files)
        monitor.start()
        time.sleep(0.1)
        assert monitor._thread.is_alive()
        assert monitor.latest() is None
    deadline = time.monotonic() + 5.0
    while monitor.latest() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # sampling again, once reads work again
    result = monitor.stop()

    assert result.gaps >= 2
    assert result.gap_reason == "OSError: [Errno 24] Too many open files"
    # It sampled again once reads worked, and the gaps' span is covered, not lost.
    assert result.samples
    assert result.samples[0].dt >= 0.1
    assert sum(s.dt for s in result.samples) == pytest.approx(result.samples[-1].t, abs=0.002)
