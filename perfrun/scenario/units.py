"""Human units for scenario files and options: durations like `500ms`, `1m30s`."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ms|h|m|s)")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:ms|h|m|s))+")
_BARE_NUMBER = re.compile(_NUMBER)
_HINT = "use e.g. 500ms, 30s, 5m, 1h"


def parse_duration(value: object) -> float:
    """Seconds from a number (already seconds) or a string like `500ms`, `1m30s`, `1.5s`.

    A bare number string (`"0"`, `"2.5"`) is seconds too. Units may be combined from
    largest to smallest (`1h30m`, `1m30s`). Negative values are refused.
    Raises ValueError with a message meant for the user.
    """
    if isinstance(value, bool):  # bool is an int subclass; `true` is never a duration
        raise ValueError(f"bad duration {value!r}: {_HINT}")
    if isinstance(value, (int, float)):
        return _non_negative(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: {_HINT}")
    text = value.strip().lower()
    if _BARE_NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        unsigned = text[1:] if text.startswith("-") else ""
        if _BARE_NUMBER.fullmatch(unsigned) or _DURATION.fullmatch(unsigned):
            raise ValueError(f"bad duration {value!r}: must not be negative")
        raise ValueError(f"bad duration {value!r}: {_HINT}")
    return _sum_parts(text, value)


def _sum_parts(text: str, original: str) -> float:
    total = 0.0
    previous_unit = math.inf
    for number, unit in _PART.findall(text):
        size = _UNIT_SECONDS[unit]
        # Descending units only: `30s1m` or `1s1s` is more likely a typo than intent.
        if size >= previous_unit:
            raise ValueError(
                f"bad duration {original!r}: units must go from largest to smallest, e.g. 1m30s"
            )
        previous_unit = size
        total += float(number) * size
    return total


def _non_negative(seconds: float, original: object) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"bad duration {original!r}: {_HINT}")
    if seconds < 0:
        raise ValueError(f"bad duration {original!r}: must not be negative")
    return seconds
