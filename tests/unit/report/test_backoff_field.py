"""The scenario's `backoff` (users waited for a target whose connects kept failing): in
the JSON report only when they did, and as docs/report.schema.json describes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from perfrun.report.codec import to_dict
from perfrun.report.model import ConnectBackoff, RunReport
from tests.support.factories import START, scenario_report

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "report.schema.json").read_text())


def _written(**changes: Any) -> dict[str, Any]:
    report = RunReport("0.1.0", START, START, {}, interrupted=False,
                       scenarios=(scenario_report(**changes),))  # fmt: skip
    data: dict[str, Any] = json.loads(json.dumps(to_dict(report)))
    return data


def test_waits_for_a_failing_target_are_in_the_report_as_the_schema_says() -> None:
    data = _written(backoff=ConnectBackoff(waits=7, seconds=2.91234))

    assert data["scenarios"][0]["backoff"] == {"waits": 7, "seconds": 2.912}
    assert list(Draft202012Validator(SCHEMA).iter_errors(data)) == []


def test_no_wait_no_backoff_key() -> None:
    data = _written()

    assert "backoff" not in data["scenarios"][0]
    assert list(Draft202012Validator(SCHEMA).iter_errors(data)) == []
