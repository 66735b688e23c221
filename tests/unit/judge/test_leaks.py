"""The target's leak figures and their verdicts' notes, as tables."""

from __future__ import annotations

import pytest

from perfrun.judge.leaks import (
    cycle_growth,
    memory_growth,
    open_files_growth,
    resource_measurements,
)
from perfrun.metrics.resources import Sample
from perfrun.report.model import Series, TargetResources, Trend


def sample(t: float, memory_mb: float | None) -> Sample:
    return Sample(
        t=t, dt=1.0, target_cpu_percent=1.0, target_memory_mb=memory_mb, target_threads=2,
        target_open_files=8, target_sockets=3, target_processes=1, system_cpu_percent=5.0,
        system_memory_percent=40.0, system_memory_used_mb=1000.0, generator_cpu_percent=3.0,
        generator_memory_mb=50.0,
    )  # fmt: skip


def test_memory_growth_is_the_rss_slope_per_hour_inside_the_window() -> None:
    # 0.01 MB/s = 36 MB/h inside [5, 25]; a warm-up spike before and a drop after.
    samples = [sample(t, 500.0 if t < 5 or t > 25 else 100.0 + 0.01 * t) for t in range(31)]
    trend = memory_growth(samples, 5.0, 25.0)
    assert trend.slope == pytest.approx(36.0)
    assert trend.low == pytest.approx(36.0)
    assert trend.high == pytest.approx(36.0)
    assert trend.points == 21


@pytest.mark.parametrize(
    ("times", "why"),
    [
        pytest.param(range(9), "9 RSS samples in the measured window, 10 needed", id="9 samples"),
        pytest.param(
            [t / 2 for t in range(12)], "the RSS samples span 5.5s, 10s needed", id="5.5 s"
        ),
    ],
)
def test_memory_growth_from_too_little_is_not_measured(times: range, why: str) -> None:
    trend = memory_growth([sample(float(t), 100.0) for t in times], 0.0, 100.0)
    assert trend.slope is None
    assert trend.note.startswith(why)


def test_samples_without_a_target_reading_do_not_count() -> None:
    samples = [sample(float(t), None if t % 2 else 100.0) for t in range(20)]
    assert memory_growth(samples, 0.0, 20.0).points == 10


@pytest.mark.parametrize(
    ("readings", "slope"),
    [
        ([100.0, 102.0, 104.0, 106.0, 108.0], 2.0),
        ([100.0, 100.0, 100.0], 0.0),
        ([100.0, None, 104.0, 106.0], 2.0),
        ([100.0, 150.0], None),
        ([], None),
    ],
)
def test_cycle_growth_is_the_slope_per_cycle_of_at_least_3_readings(
    readings: list[float | None], slope: float | None
) -> None:
    trend = cycle_growth(readings)
    assert trend.slope == slope
    if slope is None:
        assert "3 needed" in trend.note


@pytest.mark.parametrize(
    ("before", "after", "growth"), [(10, 110, 100), (10, 9, -1), (None, 5, None), (5, None, None)]
)
def test_open_files_growth_is_after_minus_before(
    before: int | None, after: int | None, growth: int | None
) -> None:
    assert open_files_growth(before, after) == growth


def target(**figures: object) -> TargetResources:
    series = Series(1.0, 2.0)
    fields: dict[str, object] = {
        "pid": 1, "name": "t", "lost": False, "cpu_percent": series, "memory_mb": series,
        "threads": Series(4.0, 6.0), "open_files": Series(20.0, 30.0),
        "sockets": Series(5.0, 7.0), "processes": series,
    }  # fmt: skip
    fields.update(figures)
    return TargetResources(**fields)  # type: ignore[arg-type]


def test_resource_measurements_read_peaks_growth_and_slopes() -> None:
    measured, notes = resource_measurements(
        target(
            open_files_growth=3,
            memory_growth_mb_per_hour=Trend(12.0, 10.0, 14.5, 40),
        ),
        "no target",
    )
    assert measured == {
        "open_files": 30.0,
        "threads": 6.0,
        "connections": 7.0,
        "open_files_growth": 3,
        "memory_growth_mb_per_hour": 12.0,
        "memory_growth_mb_per_cycle": None,
    }
    assert notes["memory_growth_mb_per_hour"] == (
        "Theil–Sen slope of 40 RSS readings, 95 % CI 10 to 14.5 MB/h"
    )
    assert notes["memory_growth_mb_per_cycle"].startswith("no leak cycles")


def test_without_a_target_every_resource_figure_is_unmeasured_with_the_reason() -> None:
    measured, notes = resource_measurements(None, "no target process known")
    assert set(measured.values()) == {None}
    assert set(notes.values()) == {"no target process known"}
