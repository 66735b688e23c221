"""A cluster run's generator health: each share judged on its own evidence, the clock
warning at its bound, a lost share said so. Pure: no I/O."""

from __future__ import annotations

import pytest

from perfrun.execution.outcome import ShareEvidence
from perfrun.judge.build import CLOCK_WARNING_MS, _on_cluster
from perfrun.report.model import GeneratorHealth

LAG = {"min": 0.0, "avg": 0.1, "p50": 0.1, "p75": 0.1, "p90": 0.1, "p95": 0.1, "p99": 0.2,
       "p999": 0.3, "max": 0.3}  # fmt: skip


def share(
    index: int, cpu: float | None = 40.0, offset: float = 0.0, **more: object
) -> ShareEvidence:
    fields: dict[str, object] = {
        "index": index, "worker": f"tcp://10.0.0.{index}:9000", "host": f"10.0.0.{index}",
        "load": "2 users (0, 2)", "requests": 100, "cpu_percent": cpu,
        "loop_lag_p99_ms": 0.2, "loop_lag_max_ms": 0.3, "sent": 0, "late": 0,
        "clock_offset_ms": offset,
    }  # fmt: skip
    fields.update(more)
    return ShareEvidence(**fields)  # type: ignore[arg-type]


BASE = GeneratorHealth(False, (), LAG, 3.0, 1, False)


@pytest.mark.parametrize(
    ("shares", "saturated", "cpu", "warned"),
    [
        ((share(0), share(1)), False, 80.0, [(), ()]),
        ((share(0, cpu=95.0), share(1)), True, 135.0, [(), ()]),
        ((share(0, offset=CLOCK_WARNING_MS), share(1, offset=-CLOCK_WARNING_MS - 1)), False,
         80.0, [(), ("clock",)]),
        ((share(0, cpu=None, requests=0, lost=True), share(1)), False, 40.0,
         [("lost",), ()]),
    ],
)  # fmt: skip
def test_each_share_is_judged_on_its_own_evidence(
    shares: tuple[ShareEvidence, ...], saturated: bool, cpu: float, warned: list[tuple[str, ...]]
) -> None:
    health = _on_cluster(BASE, "tcp://scheduler:8786", shares)

    assert health.cluster == "tcp://scheduler:8786"
    assert health.workers == len(shares)
    assert health.saturated is saturated
    assert health.cpu_percent == pytest.approx(cpu)
    assert [s.saturated for s in health.shares] == [
        s.cpu_percent is not None and s.cpu_percent >= 90 for s in shares
    ]
    assert all(r.startswith("share 0 on tcp://10.0.0.0:9000: ") for r in health.reasons)
    for judged, words in zip(health.shares, warned, strict=True):
        assert len(judged.warnings) == len(words)
        assert all(w in text for w, text in zip(words, judged.warnings, strict=True))
