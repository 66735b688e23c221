"""docs/report.schema.json against the codec: a report built from the report model through
`to_dict` validates, and the schema is strict enough to catch a renamed, missing or new field.

The integration twin (tests/integration/test_report_schema.py) validates reports that real
runs wrote; this one covers every optional part of the model at once, without sockets.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from perfrun.report.codec import to_dict
from perfrun.report.model import (
    BaselineSummary,
    ChangeStatus,
    CheckCount,
    Comparison,
    EndpointReport,
    Insight,
    MetricChange,
    Resources,
    RunReport,
    Schedule,
    Trend,
    Verdict,
    VerdictStatus,
    Warmup,
)
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import Arrival, LoadModel, ScenarioStatus, ScenarioType, Severity
from tests.support.factories import (
    LATENCY_KEYS,
    START,
    counts,
    latency,
    phases,
    resources,
    sample,
    scenario_report,
    timeline,
)

SCHEMA_PATH = Path(__file__).parents[3] / "docs" / "report.schema.json"
NO_LATENCY = dict.fromkeys(LATENCY_KEYS)

Mutation = Callable[[dict[str, Any]], object]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(validator: Draft202012Validator, report: dict[str, Any]) -> list[str]:
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(report), key=lambda e: e.json_path)
    ]


def verdict(key: str, bound: Bound, limit: float, actual: float | None) -> Verdict:
    if actual is None:
        status = VerdictStatus.NOT_MEASURED
    elif (actual <= limit) == (bound is Bound.MAX):
        status = VerdictStatus.PASS
    else:
        status = VerdictStatus.FAIL
    return Verdict(
        key=key, metric=key, bound=bound, limit=limit, actual=actual, status=status, note="why"
    )


def with_leak_figures(r: Resources) -> Resources:
    """Every leak figure filled in: growth per hour and per cycle, open files growth."""
    assert r.target is not None
    target = dataclasses.replace(
        r.target,
        memory_growth_mb_per_hour=Trend(12.5, 10.0, None, 40, ""),
        open_files_growth=3,
        memory_mb_per_cycle=(100.0, 101.5, 103.0),
        memory_growth_mb_per_cycle=Trend(1.5, None, None, 3, ""),
    )
    return dataclasses.replace(r, target=target)


def full_report() -> RunReport:
    """Every optional part of the model filled in, and every nullable part null somewhere."""
    open_model = scenario_report(
        name="spike",
        type=ScenarioType.SPIKE,
        load={
            "model": "open",
            "rate": None,
            "arrival": "poisson",
            "max_in_flight": 100,
            "start": 20.0,
            "stages": [{"duration": 5.0, "target": 20.0}, {"duration": 5.0, "target": 200.0}],
            "duration_s": 10.0,
            "warmup_s": 1.0,
            "timeout_s": 10.0,
        },
        latency_basis="intended_send_time",
        errors={"http_5xx": 3, "check_failed": 1},
        error_samples={"http_5xx": "HTTP 500 Internal Server Error", "check_failed": "get: ok"},
        endpoints=(
            EndpointReport(
                "get", "GET", "/items?limit=5", counts(failed=4), latency(), {}, phases()
            ),
        ),
        checks=(CheckCount("get: ok", "get", 996, 1),),
        warmup=Warmup(1.0, counts(100, seconds=1.0), latency()),
        schedule=Schedule(1000, 998, 3, 1, 2, latency(0.2, 1.5)),
        thresholds=(
            verdict("max_p95_response_ms", Bound.MAX, 100.0, 15.0),
            verdict("min_rps", Bound.MIN, 500.0, 100.0),
            verdict("max_memory_mb", Bound.MAX, 200.0, None),
        ),
        passed=False,
        timeline=timeline([100] * 5, target=[20.0, 40.0, 60.0, 80.0, 100.0], warmup=1),
        latency_spectrum=((0.0, 1.0), (50.0, 10.0), (99.999, 39.0), (100.0, 40.0)),
        insights=(
            Insight("long_tail", "p99 is 5x p50", {"p50_ms": 10.0, "p99_ms": 50.0}),
            Insight("generator_saturated", "perfrun was the bottleneck", {"reason_1": "lag"}),
        ),
        comparison=Comparison(
            "baseline.json",
            (
                MetricChange("p50", 10.0, 10.2, 2.0, 10.0, ChangeStatus.UNCHANGED),
                MetricChange("rps", 150.0, 100.0, -33.333, 10.0, ChangeStatus.REGRESSION),
                MetricChange("p99", None, 20.0, None, 5.0, ChangeStatus.NOT_COMPARABLE, "few"),
            ),
        ),
    )
    unreachable = scenario_report(
        name="down",
        severity=Severity.LOW,
        status=ScenarioStatus.UNREACHABLE,
        message="target http://127.0.0.1:9 unreachable: connect_refused on all 12 requests",
        passed=False,
        tolerated=True,
        requests=counts(0),
        latency_ms=NO_LATENCY,
        service_time_ms=NO_LATENCY,
        errors={"connect_refused": 12},
        resources=with_leak_figures(resources([sample(0.5)])),
        timeline=(),
    )
    no_target = dataclasses.replace(  # monitored, but with no target process to watch
        unreachable,
        name="no_target",
        resources=dataclasses.replace(
            resources([sample(0.5, memory_mb=None, cpu=None)]), target=None
        ),
    )
    could_not_run = scenario_report(
        name="no_demo",
        engine="-",
        status=ScenarioStatus.FAILED,
        message="demo target did not start",
        passed=False,
        resources=None,
        timeline=(),
    )
    return RunReport(
        perfrun_version="0.1.0",
        started_at=START,
        finished_at=START,
        environment={"host": "ci", "os": "Linux 6.1", "cpu_count": 2, "memory_mb": 4096},
        interrupted=False,
        scenarios=(open_model, unreachable, no_target, could_not_run),
        fail_on=Severity.MEDIUM,
        baseline=BaselineSummary("baseline.json", ("gone",), ("down",)),
    )


def written(report: RunReport) -> dict[str, Any]:
    """The report as its JSON file holds it (tuples as lists, enums as plain strings)."""
    data: dict[str, Any] = json.loads(json.dumps(to_dict(report)))
    return data


def test_a_report_with_every_part_filled_in_matches_the_schema(
    validator: Draft202012Validator,
) -> None:
    report = written(full_report())

    assert problems(validator, report) == []
    # The report under test does hold what the schema allows to be null or empty.
    spike, down, no_target, no_demo = report["scenarios"]
    assert spike["warmup"] and spike["schedule"] and spike["comparison"] and spike["insights"]
    assert {v["status"] for v in spike["thresholds"]} == {"pass", "fail", "not_measured"}
    assert down["resources"]["target"] is not None and no_target["resources"]["target"] is None
    assert no_demo["resources"] is None and no_demo["engine"] == "-"
    assert report["baseline"]["only_in_baseline"] == ["gone"]


def test_the_factories_plain_scenario_matches_the_schema(validator: Draft202012Validator) -> None:
    report = written(
        RunReport("0.1.0", START, START, {}, interrupted=True, scenarios=(scenario_report(),))
    )

    assert problems(validator, report) == []


def _scenario(report: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = report["scenarios"][0]
    return first


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda r: r.pop("passed"), id="top-level passed missing"),
        pytest.param(lambda r: r.pop("baseline"), id="top-level baseline missing, not null"),
        pytest.param(lambda r: _scenario(r).pop("latency_basis"), id="latency_basis missing"),
        pytest.param(lambda r: _scenario(r)["requests"].pop("rps"), id="requests.rps missing"),
        pytest.param(lambda r: _scenario(r)["latency_ms"].pop("p999"), id="p999 missing"),
        pytest.param(lambda r: _scenario(r)["thresholds"][0].pop("status"), id="verdict status"),
        pytest.param(lambda r: r.update(verdict="pass"), id="unknown top-level field"),
        pytest.param(lambda r: _scenario(r).update(p95_ms=15.0), id="unknown scenario field"),
        pytest.param(lambda r: _scenario(r)["latency_ms"].update(p98=1.0), id="unknown latency"),
        pytest.param(
            lambda r: _scenario(r)["resources"]["samples"][0].update(gpu=1.0),
            id="unknown field in a resource sample",
        ),
        pytest.param(
            lambda r: _scenario(r)["comparison"]["changes"][0].update(delta=1.0),
            id="unknown field in a comparison change",
        ),
        pytest.param(
            lambda r: _scenario(r)["endpoints"]["get"].update(rps=1.0),
            id="unknown field in an endpoint",
        ),
        pytest.param(lambda r: _scenario(r).update(status="ok"), id="scenario status not in enum"),
        pytest.param(
            lambda r: _scenario(r)["thresholds"][0].update(status="passed"),
            id="threshold status not in enum",
        ),
        pytest.param(
            lambda r: _scenario(r)["comparison"]["changes"][0].update(status="worse"),
            id="change status not in enum",
        ),
        pytest.param(lambda r: _scenario(r).update(passed=None), id="null where never null"),
        pytest.param(lambda r: _scenario(r)["requests"].update(total=-1), id="negative count"),
    ],
)
def test_the_schema_rejects_a_report_with_a_missing_unknown_or_wrong_field(
    validator: Draft202012Validator, mutate: Mutation
) -> None:
    report = written(full_report())
    assert problems(validator, report) == []
    broken = copy.deepcopy(report)

    mutate(broken)

    assert problems(validator, broken) != []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda r: _scenario(r)["errors"].update(new_kind=1), id="a new error kind"),
        pytest.param(lambda r: r["environment"].update(ci="github"), id="a new environment key"),
        pytest.param(lambda r: _scenario(r)["load"].update(new_setting=1), id="a new load key"),
        pytest.param(
            lambda r: _scenario(r)["insights"][0]["evidence"].update(ratio=7.5),
            id="new insight evidence",
        ),
    ],
)
def test_free_form_maps_take_new_names(validator: Draft202012Validator, mutate: Mutation) -> None:
    report = written(full_report())

    mutate(report)

    assert problems(validator, report) == []


@pytest.mark.parametrize(
    ("pointer", "vocabulary"),
    [
        ("$defs/scenario/properties/status/enum", ScenarioStatus),
        ("$defs/verdict/properties/status/enum", VerdictStatus),
        ("$defs/comparison/properties/changes/items/properties/status/enum", ChangeStatus),
        ("$defs/scenario/properties/type/enum", ScenarioType),
        ("$defs/severity/enum", Severity),
        ("$defs/verdict/properties/bound/enum", Bound),
        ("$defs/load/properties/model/enum", LoadModel),
        ("$defs/load/properties/arrival/enum", Arrival),
    ],
)
def test_the_schema_enums_are_the_codes_vocabularies(
    schema: dict[str, Any], pointer: str, vocabulary: type[enum.StrEnum]
) -> None:
    node: Any = schema
    for part in pointer.split("/"):
        node = node[part]

    assert sorted(node) == sorted(member.value for member in vocabulary)
