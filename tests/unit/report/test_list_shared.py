"""`--list` of many scenarios words each scenario's own thresholds, shared or not. Pure."""

from __future__ import annotations

import io

from rich.console import Console

from perfrun.report.console import LIST_TABLE_ROWS, render_list
from perfrun.scenario.quick import scenarios_from_dict

THRESHOLDS = {
    "load": "avg≤1000ms (default) rps≥10 (default) success≥95% (default)",
    "stress": "avg≤2000ms (default) rps≥5 (default) success≥90% (default)",
    "none": "none",
    "own": "p95≤250ms",
}


def test_each_scenario_lists_its_own_thresholds_among_many() -> None:
    kinds = list(THRESHOLDS) * (LIST_TABLE_ROWS // 4 + 1)
    bodies = {
        f"s{i}": {
            "base_url": "http://127.0.0.1:9",
            "requests": [{"path": "/"}],
            "load": {"users": 1, "requests_per_user": 1},
            **({"type": kind} if kind in ("load", "stress") else {}),
            **({"thresholds": "none"} if kind == "none" else {}),
            **({"thresholds": {"max_p95_response_ms": 250}} if kind == "own" else {}),
        }
        for i, kind in enumerate(kinds)
    }
    out = io.StringIO()
    render_list(scenarios_from_dict({"scenarios": bodies}, "<test>"), Console(file=out))
    rows = [line.split("\t") for line in out.getvalue().splitlines()[2:]]
    assert len(rows) == len(kinds) > LIST_TABLE_ROWS
    assert [row[-1] for row in rows] == [THRESHOLDS[kind] for kind in kinds]
