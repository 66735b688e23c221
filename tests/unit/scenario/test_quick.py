"""Quick mode's scenario (`perfrun URL ...`) and its compact thresholds, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from perfrun.errors import ScenarioError, UsageError
from perfrun.scenario.model import LoadModel, Scenario
from perfrun.scenario.quick import (
    QUICK_DURATION,
    QUICK_USERS,
    QuickLoad,
    quick_scenario,
    scenarios_from_dict,
    threshold_of,
)


@pytest.mark.parametrize(
    ("text", "key", "limit"),
    [
        ("p95<500ms", "max_p95_response_ms", 500.0),
        ("p99 <= 1.5s", "max_p99_response_ms", 1500.0),
        ("avg<250", "max_avg_response_ms", 250.0),
        ("mean<250us", "max_avg_response_ms", 0.25),
        ("max<2s", "max_max_response_ms", 2000.0),
        ("P50<10MS", "max_p50_response_ms", 10.0),
        ("error_rate<1%", "max_error_rate", 1.0),
        ("errors<0.5", "max_error_rate", 0.5),
        ("success_rate>=99.9%", "min_success_rate", 99.9),
        ("rps>100", "min_rps", 100.0),
        ("rps>100/s", "min_rps", 100.0),
    ],
)
def test_threshold_expressions(text: str, key: str, limit: float) -> None:
    got_key, got_limit = threshold_of(text)
    assert got_key == key
    assert got_limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95", "expected METRIC<VALUE"),
        ("p95<", "expected METRIC<VALUE"),
        ("p95=5", "expected METRIC<VALUE"),
        ("p42<5", "unknown metric 'p42'"),
        ("p95>5ms", "p95 takes a limit with <"),
        ("rps<100", "rps takes a limit with >"),
        ("p95<5%", "p95 is in ms or s or us"),
        ("error_rate<1ms", "error_rate is in %"),
        ("p95<1.2.3ms", "is not a number"),
    ],
)
def test_bad_threshold_expressions_name_the_option(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="--threshold") as raised:
        threshold_of(text)
    assert message in raised.value.message


def test_a_url_alone_is_ten_users_for_ten_seconds_judging_nothing() -> None:
    s = quick_scenario(QuickLoad("http://127.0.0.1:8080/api/items?page=2"))
    assert (s.name, s.base_url, s.thresholds) == ("quick", "http://127.0.0.1:8080", ())
    (request,) = s.requests
    assert (request.method, request.path, request.name) == (
        "GET",
        "/api/items?page=2",
        "GET /api/items?page=2",
    )
    assert request.expect_status == tuple(range(200, 300))
    assert (s.load.model, s.load.users, s.load.duration) == (LoadModel.CLOSED, QUICK_USERS, 10.0)
    assert QUICK_DURATION == "10s"


def test_options_shape_the_request_and_the_verdict() -> None:
    s = quick_scenario(
        QuickLoad(
            "https://127.0.0.1:8443",
            method="post",
            headers=("Content-Type: application/json", "X-Trace:  abc "),
            body='{"a": 1}',
            thresholds=("p95<300ms", "error_rate<1%"),
        )
    )
    (request,) = s.requests
    assert (request.method, request.path, request.body) == ("POST", "/", '{"a": 1}')
    assert request.headers == {"Content-Type": "application/json", "X-Trace": "abc"}
    assert [(t.key, t.limit) for t in s.thresholds] == [
        ("max_p95_response_ms", 300.0),
        ("max_error_rate", 1.0),
    ]


@pytest.mark.parametrize(
    ("quick", "load"),
    [
        (QuickLoad("http://h/", users=4, requests=100), {"users": 4, "requests_per_user": 25}),
        (QuickLoad("http://h/", requests=3), {"users": 3, "requests_per_user": 1}),
        (QuickLoad("http://h/", users=2, duration="1m"), {"users": 2, "duration": 60.0}),
        (QuickLoad("http://h/", rate="50/s"), {"rate": 50.0, "duration": 10.0}),
        (QuickLoad("http://h/", rate="100", requests=250), {"rate": 100.0, "duration": 2.5}),
    ],
)
def test_load_options(quick: QuickLoad, load: dict[str, Any]) -> None:
    spec = quick_scenario(quick).load
    assert {key: getattr(spec, key) for key in load} == load


@pytest.mark.parametrize(
    ("quick", "message"),
    [
        (QuickLoad("127.0.0.1:8080/"), "is not an http:// or https:// URL"),
        (QuickLoad("ftp://h/"), "is not an http:// or https:// URL"),
        (QuickLoad("http:///path"), "is not an http:// or https:// URL"),
        (QuickLoad("http://h/", method="FETCH"), "--method 'FETCH'"),
        (QuickLoad("http://h/", headers=("NoColon",)), "--header 'NoColon'"),
        (QuickLoad("http://h/", headers=(" X: 1",)), "--header ' X: 1'"),
        (QuickLoad("http://h/", duration="soon"), "--duration 'soon'"),
        (QuickLoad("http://h/", requests=10, duration="5s"), "either -n/--requests or --duration"),
        (QuickLoad("http://h/", users=3, requests=10), "give -n 9 or -n 12"),
        (QuickLoad("http://h/", rate="fast"), "--rate 'fast'"),
        (QuickLoad("http://h/", rate="0"), "must be more than 0"),
        (QuickLoad("http://h/", rate="10", users=2), "drop --users"),
    ],
)
def test_bad_options_are_named(quick: QuickLoad, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        quick_scenario(quick)
    assert message in raised.value.message


def test_a_dict_is_read_as_a_scenario_file_with_its_rules() -> None:
    api = {"base_url": "http://h", "requests": [{"path": "/x"}],
           "load": {"users": 2, "duration": "${D:-3s}"}}  # fmt: skip
    document: dict[str, Any] = {"scenarios": {"api": api}}
    (s,) = scenarios_from_dict(document, "<test>", {"D": "4s"})
    assert isinstance(s, Scenario)
    assert (s.name, s.load.duration, s.source) == ("api", 4.0, "<test>:2")
    api["load"]["userz"] = 1  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"<test>:\d+: api -> load: unknown key 'userz'"):
        scenarios_from_dict(document, "<test>")


@pytest.mark.parametrize("value", ["😀", "café", "a\u2028b"])
def test_a_header_value_is_ascii_or_refused_at_load(value: str) -> None:
    """httpx refuses non-ASCII header values and the fast engine could not encode some:
    refused when the file loads, the same for both engines."""
    api = {"base_url": "http://h", "requests": [{"path": "/", "headers": {"X-A": value}}],
           "load": {"users": 1, "requests_per_user": 1}}  # fmt: skip
    with pytest.raises(ScenarioError, match="not ASCII"):
        scenarios_from_dict({"scenarios": {"api": api}}, "<test>")
