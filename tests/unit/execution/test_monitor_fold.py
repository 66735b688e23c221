"""Folding samples keeps every peak and every CPU-second (pure logic, no sampling)."""

from __future__ import annotations

import pytest

from perfrun.execution.monitor import _halve
from perfrun.metrics.resources import Sample


def sample(t: float, cpu: float, rss: float, files: int | None, dt: float = 1.0) -> Sample:
    return Sample(
        t=t,
        dt=dt,
        target_cpu_percent=cpu,
        target_memory_mb=rss,
        target_threads=4,
        target_open_files=files,
        target_sockets=2,
        target_processes=1,
        system_cpu_percent=cpu / 2,
        system_memory_percent=40.0,
        system_memory_used_mb=1000.0,
        generator_cpu_percent=30.0,
        generator_memory_mb=50.0,
    )


@pytest.mark.parametrize("n", [1, 2, 5, 8, 9])
def test_halve_keeps_peaks_cpu_seconds_and_the_end(n: int) -> None:
    samples = [
        sample(t=i + 1.0, cpu=10.0 * (i % 3), rss=100.0 + (7 * i) % 11, files=None if i == 2 else i)
        for i in range(n)
    ]
    folded = _halve(samples)

    assert len(folded) == (n + 1) // 2
    assert folded[-1].t == samples[-1].t
    assert sum(s.dt for s in folded) == pytest.approx(sum(s.dt for s in samples))
    cpu_seconds = sum((s.target_cpu_percent or 0) * s.dt for s in samples)
    assert sum((s.target_cpu_percent or 0) * s.dt for s in folded) == pytest.approx(cpu_seconds)
    assert max(s.target_memory_mb or 0 for s in folded) == max(
        s.target_memory_mb or 0 for s in samples
    )
    assert max(s.target_open_files or 0 for s in folded) == n - 1
