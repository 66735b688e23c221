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


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["-H", "Authorization: Bearer t0k"], ["-H", "Authorization: Bearer ***"]),
        (["--header=Cookie: sid=t0k; b=2"], ["--header=Cookie: sid=***; b=***"]),
        (["-HX-Api-Key: t0k", "-H", "Accept: */*"], ["-HX-Api-Key: ***", "-H", "Accept: */*"]),
        (
            ["--body", '{"password": "t0k"}', "--body=@item.json"],
            ["--body", "…", "--body=@item.json"],
        ),
        (["http://bob:t0k@127.0.0.1:8/x"], ["http://bob:…@127.0.0.1:8/x"]),
        (["http://h/x?access_token=t0k&page=2"], ["http://h/x?access_token=***&page=2"]),
        (["--base-url", "https://u:t0k@h"], ["--base-url", "https://u:…@h"]),
    ],
)
def test_quick_mode_secrets_are_left_out(argv: list[str], kept: list[str]) -> None:
    """Headers, an inline body and URL credentials of quick mode (perfrun URL -H ...)."""
    assert redacted_argv(argv) == kept
    assert not any("t0k" in arg for arg in redacted_argv(argv))
