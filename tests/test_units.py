import pytest

from perfrun.scenario.units import parse_duration


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
