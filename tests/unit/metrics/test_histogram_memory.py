"""A dropped LatencyHistogram frees its ~190 kB of counts at once, without the cyclic GC:
live progress builds and drops two every 0.5 s, and dead ones waiting for a collection
swelled RSS (issue 9)."""

from __future__ import annotations

import gc
import pickle
import tracemalloc
from collections.abc import Iterator

import pytest

from perfrun.metrics.histogram import LatencyHistogram


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_dropped_histograms_are_freed_without_the_cyclic_gc(no_cyclic_gc: None) -> None:
    kept = LatencyHistogram()
    kept.record(0.002)
    kept.record(1.5)
    tracemalloc.start()
    try:
        for _ in range(50):
            merged = LatencyHistogram()
            merged.merge(kept)
            back = pickle.loads(pickle.dumps(merged))
            decoded = LatencyHistogram.decode(back.encode())
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # The last three are alive (~190 kB each); 150 dead ones in cycles would be ~28 MB.
    assert retained < 1_000_000
    assert decoded.summary_ms() == kept.summary_ms()
