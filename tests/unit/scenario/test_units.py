import math
import re
from collections.abc import Callable

import pytest

from perfrun.scenario.units import format_duration, parse_base_url, parse_duration, parse_rate


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (5, 5.0),
        (2.5, 2.5),
        ("0", 0.0),
        ("0s", 0.0),
        ("2.5", 2.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h30m", 5400.0),
        ("1m0s250ms", 60.25),
        (" 2S ", 2.0),
    ],
)
def test_parse_duration_accepts_numbers_and_unit_strings(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "bad duration 'abc': use e.g. 500ms, 30s, 5m, 1h"),
        ("", "bad duration '': use e.g."),
        ("1d", "bad duration '1d': use e.g."),
        ("5 m", "bad duration '5 m': use e.g."),
        ("s", "bad duration 's': use e.g."),
        ("-1s", "bad duration '-1s': must not be negative"),
        ("-2", "bad duration '-2': must not be negative"),
        (-1, "bad duration -1: must not be negative"),
        (-0.5, "bad duration -0.5: must not be negative"),
        (True, "bad duration True: use e.g."),
        (None, "bad duration None: use e.g."),
        ([1], "bad duration [1]: use e.g."),
        (float("nan"), "bad duration nan: use e.g."),
        (float("inf"), "bad duration inf: use e.g."),
        ("30s1m", "units must go from largest to smallest"),
        ("1s1s", "units must go from largest to smallest"),
    ],
)
def test_parse_duration_rejects_bad_input_with_a_hint(value: object, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_duration(value)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("value", "per_second"),
    [
        (300, 300.0),
        (2.5, 2.5),
        (0, 0.0),
        ("300", 300.0),
        ("0.5", 0.5),
        ("300/s", 300.0),
        ("18000/m", 300.0),
        ("7200/h", 2.0),
        ("1/h", 1 / 3600),
        ("300 / s", 300.0),
        ("300/ s", 300.0),
        (" 60/M ", 1.0),
        ("1.5/s", 1.5),
        (".5/s", 0.5),
    ],
)
def test_parse_rate_accepts_numbers_and_per_unit_strings(value: object, per_second: float) -> None:
    assert parse_rate(value) == pytest.approx(per_second)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3x", "bad rate '3x': use e.g. 300, 300/s, 18000/m"),
        ("5/ms", "bad rate '5/ms': use e.g."),
        ("300/min", "bad rate '300/min': use e.g."),
        ("300 rps", "bad rate '300 rps': use e.g."),
        ("/s", "bad rate '/s': use e.g."),
        ("300/", "bad rate '300/': use e.g."),
        ("", "bad rate '': use e.g."),
        ("300s", "bad rate '300s': use e.g."),
        ("-5", "bad rate '-5': must not be negative"),
        ("-5/s", "bad rate '-5/s': must not be negative"),
        (-1, "bad rate -1: must not be negative"),
        (True, "bad rate True: use e.g."),
        (None, "bad rate None: use e.g."),
        ([300], "bad rate [300]: use e.g."),
        (float("nan"), "bad rate nan: use e.g."),
        (float("inf"), "bad rate inf: use e.g."),
    ],
)
def test_parse_rate_rejects_bad_input_with_a_hint(value: object, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_rate(value)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0001, "0.0001s"),
        (0.25, "250ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (30, "30s"),
        (60, "1m"),
        (90, "1m30s"),
        (0.1 + 0.2 + 29.7, "30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (3661.25, "1h1m1.25s"),
    ],
)
def test_format_duration_reads_back_to_the_same_seconds(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("demo", "demo"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("https://api.example/v1", "https://api.example/v1"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_parse_base_url_accepts_demo_and_http_urls(value: str, expected: str) -> None:
    assert parse_base_url(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://x", "must be 'demo' or an http:// or https:// URL"),
        ("http://", "no host in 'http://'"),
        ("http://127.0.0.1:99999", "bad port in 'http://127.0.0.1:99999'"),
        ("http://a..b", "bad host name in 'http://a..b'"),
        (8080, "must be 'demo' or an http:// or https:// URL, got 8080"),
    ],
)
def test_parse_base_url_names_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_base_url(value)


@pytest.mark.parametrize("parse", [parse_duration, parse_rate])
@pytest.mark.parametrize(
    "value", [10**400, -(10**400), "9" * 400, "9" * 400 + ".5", math.inf, -math.inf, math.nan]
)
def test_a_number_too_large_or_not_finite_is_a_value_error(
    parse: Callable[[object], float], value: object
) -> None:
    with pytest.raises(ValueError, match=r"too large|use e\.g\.|negative") as excinfo:
        parse(value)
    assert "9" * 100 not in str(excinfo.value)  # named, not printed
