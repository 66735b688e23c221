"""`--list` of many scenarios: plain tab-separated lines instead of a table. Pure."""

from __future__ import annotations

import io

from rich.console import Console

from perfrun.report.console import LIST_TABLE_ROWS, render_list
from perfrun.scenario.quick import scenarios_from_dict


def listed(count: int) -> list[str]:
    body = {"base_url": "http://127.0.0.1:9", "requests": [{"path": "/"}],
            "load": {"users": 1, "requests_per_user": 1}, "thresholds": "none"}  # fmt: skip
    document = {"scenarios": {f"s{i}": body for i in range(count)}}
    out = io.StringIO()
    render_list(scenarios_from_dict(document, "<test>"), Console(file=out, width=120))
    return out.getvalue().splitlines()


def test_beyond_the_table_rows_every_scenario_is_one_plain_line() -> None:
    lines = listed(LIST_TABLE_ROWS + 1)
    assert lines[0] == f"{LIST_TABLE_ROWS + 1} scenario(s)"
    assert lines[1].split("\t") == ["name", "type", "severity", "load", "target", "thresholds"]
    assert len(lines) == LIST_TABLE_ROWS + 3
    assert lines[2].split("\t") == [
        "s0",
        "load",
        "medium",
        "1 users × 1 req",
        "http://127.0.0.1:9",
        "none",
    ]


def test_a_few_scenarios_are_a_table() -> None:
    lines = listed(2)
    assert lines[0].strip() == "2 scenario(s)"
    assert not any("\t" in line for line in lines)
