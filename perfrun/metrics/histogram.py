"""A latency histogram: HdrHistogram at microsecond resolution, 3 significant digits.

Constant memory however many values, exact counts, and lossless merging (also across
processes, through `encode`/`decode`), which a list of samples or a reservoir cannot give.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Mapping, Sequence
from math import floor
from typing import Final

from hdrh.histogram import HdrHistogram

LOWEST_US: Final = 1
HIGHEST_US: Final = 3_600_000_000  # one hour; slower values are clamped to it
SIGNIFICANT_DIGITS: Final = 3

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p75", 75.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p999", 99.9),
)
"""Report name and percentile of every percentile perfrun reports."""

# HdrHistogram's bucket arithmetic for this configuration, inlined in `record` (and in
# ScenarioStats.ok, the fast engine's hot path): the library's record_value costs ~0.7 µs
# per value in Python, the inlined form ~0.2 µs, and every request records one or two
# values. Same counts, bit for bit (tested). See `index_of`.
_LAYOUT = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
UNIT_MAGNITUDE: Final = int(_LAYOUT.unit_magnitude)
HALF_MAGNITUDE: Final = int(_LAYOUT.sub_bucket_half_count_magnitude)
SUB_BUCKET_MASK: Final = int(_LAYOUT.sub_bucket_mask)
HALF_COUNT: Final = int(_LAYOUT.sub_bucket_half_count)
_COUNTS_LEN: Final = int(_LAYOUT.counts_len)
BUCKET_BASE: Final = UNIT_MAGNITUDE + HALF_MAGNITUDE + 1
del _LAYOUT


def _acyclic(hdr: HdrHistogram) -> HdrHistogram:
    """The histogram with its encoder's reference back to it made weak. hdrh's histogram
    and encoder refer to each other, so a dropped histogram (~190 kB of counts) waited for
    the cyclic GC; live progress drops two every 0.5 s. Without the cycle it is freed at
    once, and RSS does not swell between collections."""
    hdr.encoder.histogram = weakref.proxy(hdr)
    return hdr


def clamp_us(seconds: float) -> int:
    """A latency in seconds as the whole microseconds a histogram records (clamped to
    its range). Rounded half up with math.floor, not int(): the same for any value
    that is not clamped, and a third of int()'s cost on a float (a hot path's figure:
    ~260 against ~720 instructions in CPython 3.11)."""
    us = floor(seconds * 1_000_000.0 + 0.5)
    if us < LOWEST_US:
        return LOWEST_US
    return HIGHEST_US if us > HIGHEST_US else us


_LINEAR_END: Final = SUB_BUCKET_MASK + 1 if UNIT_MAGNITUDE == 0 else LOWEST_US
"""Values from LOWEST_US up to here (2,048 µs) are their own counts index: the first
bucket counts every microsecond (see `index_of`)."""


def index_of(us: int) -> int:
    """The counts index of a value in microseconds (within the range, see `clamp_us`)."""
    if us < _LINEAR_END:  # most latencies against a fast target: no arithmetic
        return us
    bucket = (us | SUB_BUCKET_MASK).bit_length() - BUCKET_BASE
    return ((bucket + 1) << HALF_MAGNITUDE) + (us >> (bucket + UNIT_MAGNITUDE)) - HALF_COUNT


def counts_index(seconds: float) -> int:
    """The index in LatencyHistogram's counts of a latency in seconds (clamped like
    `record`): lets a sparse structure count values in the same buckets."""
    return index_of(clamp_us(seconds))


def _lowest_us(index: int) -> int:
    """The smallest value counted at `index` (HdrHistogram's get_value_from_index)."""
    bucket = (index >> HALF_MAGNITUDE) - 1
    sub_bucket = (index & (HALF_COUNT - 1)) + HALF_COUNT
    if bucket < 0:
        sub_bucket -= HALF_COUNT
        bucket = 0
    return sub_bucket << (bucket + UNIT_MAGNITUDE)


def _highest_us(index: int) -> int:
    """The largest value counted at `index` (HdrHistogram's get_highest_equivalent_value)."""
    lowest = _lowest_us(index)
    bucket = (lowest | SUB_BUCKET_MASK).bit_length() - UNIT_MAGNITUDE - HALF_MAGNITUDE - 1
    return lowest + (1 << (bucket + UNIT_MAGNITUDE)) - 1


def sparse_percentiles_ms(
    counts: Mapping[int, int], percentiles: Sequence[float]
) -> list[float | None]:
    """Percentiles of sparse counts ({counts index: count}), exactly as a LatencyHistogram
    holding the same values answers them (HdrHistogram's get_value_at_percentile), but in
    time proportional to the non-zero buckets, not to the ~23,000 of the layout."""
    total = sum(counts.values())
    if total == 0:
        return [None] * len(percentiles)
    targets = [max(int(min(p, 100.0) * total / 100 + 0.5), 1) for p in percentiles]
    found: list[float | None] = [None] * len(percentiles)
    order = sorted(range(len(targets)), key=targets.__getitem__)
    cumulative, next_target = 0, 0
    for index in sorted(counts):
        cumulative += counts[index]
        while next_target < len(order) and cumulative >= targets[order[next_target]]:
            i = order[next_target]
            us = _highest_us(index) if percentiles[i] else _lowest_us(index)
            found[i] = us / 1000.0
            next_target += 1
        if next_target == len(order):
            break
    return found


class LatencyHistogram:
    """Records latencies in seconds, answers in milliseconds.

    The counts live in a plain list in HdrHistogram's layout (incrementing a list item
    costs a third of incrementing hdrh's ctypes array); an HdrHistogram is built from
    them only to answer (percentiles, encoding), and kept until the next record. The
    average is computed from an exact running sum, not from bucket midpoints.
    """

    __slots__ = ("_view", "counts", "sum_us", "total")

    def __init__(self) -> None:
        self.counts = [0] * _COUNTS_LEN
        """Values per HdrHistogram counts index (see `index_of`). The minimum and maximum
        are read off them (HdrHistogram reports them at their buckets' bounds anyway)."""
        self.total = 0
        self.sum_us = 0
        self._view: HdrHistogram | None = None
        """The HdrHistogram of the counts when `total` was its total count."""

    def record(self, seconds: float) -> None:
        us = floor(seconds * 1_000_000.0 + 0.5)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us = HIGHEST_US
        bucket = (us | SUB_BUCKET_MASK).bit_length() - BUCKET_BASE
        self.counts[
            ((bucket + 1) << HALF_MAGNITUDE) + (us >> (bucket + UNIT_MAGNITUDE)) - HALF_COUNT
        ] += 1
        self.total += 1
        self.sum_us += us

    def merge(self, other: LatencyHistogram) -> None:
        if not other.total:
            return
        self.counts = list(map(operator.add, self.counts, other.counts))  # at C speed
        self.total += other.total
        self.sum_us += other.sum_us

    @classmethod
    def from_counts(cls, counts: Mapping[int, int]) -> LatencyHistogram:
        """A histogram of sparse counts ({counts index: count}); the sum (for the average)
        is not known, so it is taken at each bucket's lowest value."""
        histogram = cls()
        for index, count in counts.items():
            if not 0 <= index < _COUNTS_LEN:
                raise ValueError(f"counts index {index} outside the layout")
            histogram.counts[index] += count
            histogram.total += count
            histogram.sum_us += _lowest_us(index) * count
        return histogram

    def _hdr(self) -> HdrHistogram:
        """The HdrHistogram of the counts (built again only after a record)."""
        view = self._view
        if view is None or view.total_count != self.total:
            view = _acyclic(HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS))
            counts = self.counts
            view.counts[:] = counts
            view.total_count = self.total
            if self.total:
                # The first and last non-zero counts, found at C speed: list.index of the
                # first non-zero value finds its first place, and all before it are 0.
                first = counts.index(next(filter(None, counts)))
                backwards = counts[::-1]
                last = len(counts) - 1 - backwards.index(next(filter(None, backwards)))
                view.min_value = _lowest_us(first)
                view.max_value = _lowest_us(last)
            self._view = view
        return view

    @property
    def count(self) -> int:
        return self.total

    def percentile_ms(self, percentile: float) -> float | None:
        """HdrHistogram's get_value_at_percentile, from the counts: live progress asks
        twice a second, on the load's own event loop. Compiled (setup.py), the running
        sum stops at the percentile's bucket: ~0.1 ms, where a sum of every bucket made
        into a list and bisected held the loop for 1.5-2 ms."""
        if self.total == 0:
            return None
        target = max(int(min(percentile, 100.0) * self.total / 100 + 0.5), 1)
        running = 0
        index = 0
        for count in self.counts:
            running += count
            if running >= target:
                break
            index += 1
        us = _highest_us(index) if percentile else _lowest_us(index)
        return us / 1000.0

    def summary_ms(self) -> dict[str, float | None]:
        """min, avg, p50 … p99.9, max in milliseconds; all None when empty."""
        keys = ["min", "avg", *(name for name, _ in PERCENTILES), "max"]
        if self.total == 0:
            return dict.fromkeys(keys)
        hdr = self._hdr()
        values = hdr.get_percentile_to_value_dict([p for _, p in PERCENTILES])
        out: dict[str, float | None] = {
            "min": hdr.get_min_value() / 1000.0,
            "avg": self.sum_us / self.total / 1000.0,
        }
        for name, p in PERCENTILES:
            out[name] = values[p] / 1000.0
        out["max"] = hdr.get_max_value() / 1000.0
        return out

    def spectrum_ms(self, percentiles: Sequence[float]) -> list[tuple[float, float]]:
        """(percentile, value ms) for each percentile: the distribution's shape."""
        if self.total == 0:
            return []
        values = self._hdr().get_percentile_to_value_dict(list(percentiles))
        return [(p, values[p] / 1000.0) for p in percentiles]

    def encode(self) -> str:
        """Compressed, base64 text form (HdrHistogram's standard encoding) plus the sum."""
        return f"{self.sum_us}:{self._hdr().encode().decode('ascii')}"

    def __getstate__(self) -> str:
        """Pickled as its encoding, so stats travel between worker processes losslessly."""
        return self.encode()

    def __setstate__(self, state: str) -> None:
        sum_us, _, payload = state.partition(":")
        decoded = _acyclic(HdrHistogram.decode(payload.encode("ascii")))
        counts = [0] * _COUNTS_LEN
        decoded_counts = decoded.counts
        for index in range(min(len(decoded_counts), _COUNTS_LEN)):
            count = decoded_counts[index]
            if count:
                counts[index] = count
        self.counts = counts
        self.total = sum(counts)
        self.sum_us = int(sum_us)
        self._view = None

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        histogram = cls.__new__(cls)
        histogram.__setstate__(text)
        return histogram


class SparseHistogram:
    """LatencyHistogram's buckets kept sparsely ({counts index: count}) with an exact sum:
    for a figure with few distinct values, such as a request's phases. Answers exactly
    as a LatencyHistogram of the same values."""

    __slots__ = ("counts", "sum_us", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.sum_us = 0

    def record(self, seconds: float) -> None:
        us = clamp_us(seconds)
        index = index_of(us)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.total += 1
        self.sum_us += us

    def __getstate__(self) -> tuple[dict[int, int], int, int]:
        """The same state in either build (compiled or not: setup.py)."""
        return self.counts, self.total, self.sum_us

    def __setstate__(self, state: tuple[dict[int, int], int, int]) -> None:
        self.counts, self.total, self.sum_us = state

    def merge(self, other: SparseHistogram) -> None:
        counts = self.counts
        for index, count in other.counts.items():
            counts[index] = counts.get(index, 0) + count
        self.total += other.total
        self.sum_us += other.sum_us

    def histogram(self) -> LatencyHistogram:
        """The same values as a LatencyHistogram (to answer from)."""
        histogram = LatencyHistogram.from_counts(self.counts)
        histogram.sum_us = self.sum_us
        return histogram

    def summary_ms(self) -> dict[str, float | None]:
        """As LatencyHistogram.summary_ms."""
        return self.histogram().summary_ms()
