"""The command line kept in a report hides the values of `-e KEY=VALUE`. Pure."""

from __future__ import annotations

import pytest

from perfrun.judge.build import redacted_argv


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["perfrun", "-e", "TOKEN=s3cret", "-s", "x"], ["perfrun", "-e", "TOKEN=…", "-s", "x"]),
        (["perfrun", "--env", "A=1", "--env=B=2"], ["perfrun", "--env", "A=…", "--env=B=…"]),
        (["perfrun", "-eC=3", "-o", "r.json"], ["perfrun", "-eC=…", "-o", "r.json"]),
        (["perfrun", "--list"], ["perfrun", "--list"]),
    ],
)
def test_env_values_are_left_out(argv: list[str], kept: list[str]) -> None:
    assert redacted_argv(argv) == kept
