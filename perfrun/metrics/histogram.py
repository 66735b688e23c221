"""A latency histogram: HdrHistogram at microsecond resolution, 3 significant digits.

Constant memory however many values, exact counts, and lossless merging (also across
processes, through `encode`/`decode`), which a list of samples or a reservoir cannot give.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour; slower values are clamped to it
SIGNIFICANT_DIGITS = 3

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p75", 75.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p999", 99.9),
)
"""Report name and percentile of every percentile perfrun reports."""

# HdrHistogram's bucket arithmetic for this configuration, inlined in `record`: the
# library's record_value costs ~0.7 µs per value in Python, the inlined form ~0.2 µs,
# and every request records one or two values. Same counts, bit for bit (tested).
_LAYOUT = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
_UNIT = int(_LAYOUT.unit_magnitude)
_HALF_MAGNITUDE = int(_LAYOUT.sub_bucket_half_count_magnitude)
_MASK = int(_LAYOUT.sub_bucket_mask)
_HALF = int(_LAYOUT.sub_bucket_half_count)
_COUNTS_LEN = int(_LAYOUT.counts_len)
del _LAYOUT


def _acyclic(hdr: HdrHistogram) -> HdrHistogram:
    """The histogram with its encoder's reference back to it made weak. hdrh's histogram
    and encoder refer to each other, so a dropped histogram (~190 kB of counts) waited for
    the cyclic GC; live progress drops two every 0.5 s. Without the cycle it is freed at
    once, and RSS does not swell between collections."""
    hdr.encoder.histogram = weakref.proxy(hdr)
    return hdr


def counts_index(seconds: float) -> int:
    """The index in LatencyHistogram's counts of a latency in seconds (clamped like
    `record`): lets a sparse structure count values in the same buckets."""
    us = int(seconds * 1_000_000.0 + 0.5)
    if us < LOWEST_US:
        us = LOWEST_US
    elif us > HIGHEST_US:
        us = HIGHEST_US
    bucket = (us | _MASK).bit_length() - _UNIT - _HALF_MAGNITUDE - 1
    return ((bucket + 1) << _HALF_MAGNITUDE) + (us >> (bucket + _UNIT)) - _HALF


def _lowest_us(index: int) -> int:
    """The smallest value counted at `index` (HdrHistogram's get_value_from_index)."""
    bucket = (index >> _HALF_MAGNITUDE) - 1
    sub_bucket = (index & (_HALF - 1)) + _HALF
    if bucket < 0:
        sub_bucket -= _HALF
        bucket = 0
    return sub_bucket << (bucket + _UNIT)


def _highest_us(index: int) -> int:
    """The largest value counted at `index` (HdrHistogram's get_highest_equivalent_value)."""
    lowest = _lowest_us(index)
    bucket = (lowest | _MASK).bit_length() - _UNIT - _HALF_MAGNITUDE - 1
    return lowest + (1 << (bucket + _UNIT)) - 1


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

    The average is computed from an exact running sum, not from bucket midpoints.
    """

    __slots__ = ("_hdr", "_sum_us")

    def __init__(self) -> None:
        self._hdr = _acyclic(HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS))
        self._sum_us = 0

    def record(self, seconds: float) -> None:
        us = int(seconds * 1_000_000.0 + 0.5)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us = HIGHEST_US
        hdr = self._hdr
        bucket = (us | _MASK).bit_length() - _UNIT - _HALF_MAGNITUDE - 1
        hdr.counts[((bucket + 1) << _HALF_MAGNITUDE) + (us >> (bucket + _UNIT)) - _HALF] += 1
        hdr.total_count += 1
        if us < hdr.min_value:
            hdr.min_value = us
        if us > hdr.max_value:
            hdr.max_value = us
        self._sum_us += us

    def merge(self, other: LatencyHistogram) -> None:
        self._hdr.add(other._hdr)
        self._sum_us += other._sum_us

    @classmethod
    def from_counts(cls, counts: Mapping[int, int]) -> LatencyHistogram:
        """A histogram of sparse counts ({counts index: count}); the sum (for the average)
        is not known, so it is taken at each bucket's lowest value."""
        histogram = cls()
        hdr = histogram._hdr
        for index, count in counts.items():
            if not 0 <= index < _COUNTS_LEN:
                raise ValueError(f"counts index {index} outside the layout")
            hdr.counts[index] += count
            hdr.total_count += count
            lowest = _lowest_us(index)
            hdr.min_value = min(hdr.min_value, lowest)
            hdr.max_value = max(hdr.max_value, lowest)
            histogram._sum_us += lowest * count
        return histogram

    @property
    def count(self) -> int:
        return int(self._hdr.get_total_count())

    def percentile_ms(self, percentile: float) -> float | None:
        if self.count == 0:
            return None
        return float(self._hdr.get_value_at_percentile(percentile)) / 1000.0

    def summary_ms(self) -> dict[str, float | None]:
        """min, avg, p50 … p99.9, max in milliseconds; all None when empty."""
        keys = ["min", "avg", *(name for name, _ in PERCENTILES), "max"]
        if self.count == 0:
            return dict.fromkeys(keys)
        values = self._hdr.get_percentile_to_value_dict([p for _, p in PERCENTILES])
        out: dict[str, float | None] = {
            "min": self._hdr.get_min_value() / 1000.0,
            "avg": self._sum_us / self.count / 1000.0,
        }
        for name, p in PERCENTILES:
            out[name] = values[p] / 1000.0
        out["max"] = self._hdr.get_max_value() / 1000.0
        return out

    def spectrum_ms(self, percentiles: Sequence[float]) -> list[tuple[float, float]]:
        """(percentile, value ms) for each percentile: the distribution's shape."""
        if self.count == 0:
            return []
        values = self._hdr.get_percentile_to_value_dict(list(percentiles))
        return [(p, values[p] / 1000.0) for p in percentiles]

    def encode(self) -> str:
        """Compressed, base64 text form (HdrHistogram's standard encoding) plus the sum."""
        return f"{self._sum_us}:{self._hdr.encode().decode('ascii')}"

    def __getstate__(self) -> str:
        """Pickled as its encoding, so stats travel between worker processes losslessly."""
        return self.encode()

    def __setstate__(self, state: str) -> None:
        sum_us, _, payload = state.partition(":")
        self._hdr = _acyclic(HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS))
        self._hdr.add(_acyclic(HdrHistogram.decode(payload.encode("ascii"))))
        self._sum_us = int(sum_us)

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        histogram = cls.__new__(cls)
        histogram.__setstate__(text)
        return histogram
