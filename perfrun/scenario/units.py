"""Human units for scenario files and options: durations like `500ms`, `1m30s`, and
request rates like `300/s`, `18000/m`."""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ms|h|m|s)")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:ms|h|m|s))+")
_BARE_NUMBER = re.compile(_NUMBER)
_HINT = "use e.g. 500ms, 30s, 5m, 1h"
_PER_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(rf"({_NUMBER})(?:\s*/\s*([smh]))?")
_RATE_HINT = "use e.g. 300, 300/s, 18000/m"


def parse_duration(value: object) -> float:
    """Seconds from a number (already seconds) or a string like `500ms`, `1m30s`, `1.5s`.

    A bare number string (`"0"`, `"2.5"`) is seconds too. Units may be combined from
    largest to smallest (`1h30m`, `1m30s`). Negative values are refused.
    Raises ValueError with a message meant for the user.
    """
    if isinstance(value, bool):  # bool is an int subclass; `true` is never a duration
        raise ValueError(f"bad duration {value!r}: {_HINT}")
    if isinstance(value, (int, float)):
        return _non_negative(_float(value, "duration"), value)
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: {_HINT}")
    text = value.strip().lower()
    if _BARE_NUMBER.fullmatch(text):
        return _non_negative(float(text), value)
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
    return _non_negative(total, original)


def _float(value: float, what: str) -> float:
    """`value` as a float; ValueError (not OverflowError) for an int too large for one."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"bad {what}: a {len(str(abs(int(value))))}-digit number is too large"
        ) from None


def _non_negative(seconds: float, original: object) -> float:
    if not math.isfinite(seconds):
        if isinstance(original, str) and seconds == math.inf:  # 400 digits of text
            raise ValueError(f"bad duration {original[:40]!r}...: too large")
        raise ValueError(f"bad duration {original!r}: {_HINT}")
    if seconds < 0:
        raise ValueError(f"bad duration {original!r}: must not be negative")
    return seconds


def parse_rate(value: object) -> float:
    """Requests per second from a number (already per second) or a string like `300`,
    `300/s`, `18000/m`, `100/h` (spaces around the `/` allowed).

    Zero is returned as is (a stage may ramp to 0); negative rates are refused.
    Raises ValueError with a message meant for the user.
    """
    if isinstance(value, bool):
        raise ValueError(f"bad rate {value!r}: {_RATE_HINT}")
    if isinstance(value, (int, float)):
        rate = _float(value, "rate")
        if not math.isfinite(rate):
            raise ValueError(f"bad rate {value!r}: {_RATE_HINT}")
        if rate < 0:
            raise ValueError(f"bad rate {value!r}: must not be negative")
        return rate
    if not isinstance(value, str):
        raise ValueError(f"bad rate {value!r}: {_RATE_HINT}")
    text = value.strip().lower()
    match = _RATE.fullmatch(text)
    if match is None:
        if text.startswith("-") and _RATE.fullmatch(text[1:].lstrip()):
            raise ValueError(f"bad rate {value!r}: must not be negative")
        raise ValueError(f"bad rate {value!r}: {_RATE_HINT}")
    number, per = match.groups()
    rate = float(number) / _PER_SECONDS[per or "s"]
    if not math.isfinite(rate):  # 400 digits of text
        raise ValueError(f"bad rate {value[:40]!r}...: too large")
    return rate


def format_duration(seconds: float) -> str:
    """The inverse of `parse_duration`, for messages: 0.5 -> `500ms`, 90 -> `1m30s`."""
    millis = round(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms" if millis else f"{seconds:g}s"  # 0 -> `0s`, 0.0001 -> `0.0001s`
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if rest:
        parts.append(f"{rest / 1000:g}s")
    return "".join(parts)


def parse_base_url(value: object) -> str:
    """`demo`, or an http:// / https:// URL with a host (and a valid port, if any),
    without a trailing slash. ValueError saying what is wrong otherwise."""
    if value == "demo":
        return "demo"
    if not isinstance(value, str):
        raise ValueError(f"must be 'demo' or an http:// or https:// URL, got {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must be 'demo' or an http:// or https:// URL, got {value!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {value!r}")
    try:
        parts.port  # noqa: B018  # urlsplit checks the port only when asked
    except ValueError:
        raise ValueError(f"bad port in {value!r}: use 1-65535") from None
    if any(not label for label in parts.hostname.split(".")[:-1]):
        raise ValueError(f"bad host name in {value!r}")
    return value.rstrip("/")
