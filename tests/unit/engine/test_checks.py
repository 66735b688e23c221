from typing import Any

import httpx
import pytest

from perfrun.engine.checks import Judge, check_names, failed_checks
from perfrun.metrics.result import ErrorKind
from perfrun.scenario.model import Checks, RequestSpec

BODY = b'{"status": "ok", "count": 2, "items": [{"id": 1, "tags": ["a"]}, {"id": 7}], "none": null}'
HEADERS = {"content-type": "application/json", "x-request-id": "abc"}


def failed(checks: Checks, headers: Any = None, body: bytes = BODY) -> tuple[str, ...]:
    return failed_checks(checks, "r", HEADERS if headers is None else headers, body)


def test_no_checks_pass_without_looking_at_the_response() -> None:
    assert failed_checks(Checks(), "r", {}, b"") == ()


def test_check_names_cover_every_check_in_report_order() -> None:
    spec = RequestSpec(
        name="health",
        checks=Checks(
            body_contains=("ok", "up"),
            json={"status": "ok", "items.0.id": 1},
            headers={"content-type": "application/json", "x-request-id": None},
        ),
    )
    assert check_names(spec) == (
        "health: body contains 'ok'",
        "health: body contains 'up'",
        "health: json status == 'ok'",
        "health: json items.0.id == 1",
        "health: header content-type == 'application/json'",
        "health: header x-request-id present",
    )


def test_request_without_checks_has_no_check_names() -> None:
    assert check_names(RequestSpec(name="health")) == ()


# (id, checks, failed names; the request is "r", the response BODY and HEADERS)
CASES = [
    ("body-contains", Checks(body_contains=('"status": "ok"',)), ()),
    ("body-missing", Checks(body_contains=("error",)), ("r: body contains 'error'",)),
    ("body-is-case-sensitive", Checks(body_contains=("OK",)), ("r: body contains 'OK'",)),
    ("body-several", Checks(body_contains=("items", "nope", "count")),
     ("r: body contains 'nope'",)),
    ("json-string", Checks(json={"status": "ok"}), ()),
    ("json-number", Checks(json={"count": 2}), ()),
    ("json-wrong-value", Checks(json={"status": "down"}), ("r: json status == 'down'",)),
    ("json-wrong-type", Checks(json={"count": "2"}), ("r: json count == '2'",)),
    ("json-into-list", Checks(json={"items.1.id": 7, "items.0.tags.0": "a"}), ()),
    ("json-whole-list", Checks(json={"items.0.tags": ["a"]}), ()),
    ("json-whole-object", Checks(json={"items.1": {"id": 7}}), ()),
    ("json-null-value", Checks(json={"none": None}), ()),
    ("json-missing-key", Checks(json={"missing": None}), ("r: json missing == None",)),
    ("json-index-past-end", Checks(json={"items.2.id": 7}), ("r: json items.2.id == 7",)),
    ("json-index-not-a-number", Checks(json={"items.first": 1}), ("r: json items.first == 1",)),
    ("json-negative-index", Checks(json={"items.-1.id": 7}), ("r: json items.-1.id == 7",)),
    ("json-path-through-scalar", Checks(json={"status.x": 1}), ("r: json status.x == 1",)),
    ("header-exact", Checks(headers={"content-type": "application/json"}), ()),
    ("header-present", Checks(headers={"x-request-id": None}), ()),
    ("header-absent", Checks(headers={"x-trace": None}), ("r: header x-trace present",)),
    ("header-absent-with-value", Checks(headers={"x-trace": "1"}), ("r: header x-trace == '1'",)),
    ("header-wrong-value", Checks(headers={"content-type": "text/html"}),
     ("r: header content-type == 'text/html'",)),
    ("header-value-is-exact", Checks(headers={"content-type": "application/JSON"}),
     ("r: header content-type == 'application/JSON'",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("checks", "expected"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_failed_checks_names_each_failing_check(checks: Checks, expected: tuple[str, ...]) -> None:
    assert failed(checks) == expected


def test_invalid_json_fails_every_json_check_but_not_the_others() -> None:
    checks = Checks(body_contains=("<html",), json={"status": "ok", "count": 2})
    assert failed(checks, body=b"<html>oops</html>") == (
        "r: json status == 'ok'",
        "r: json count == 2",
    )


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe\xfa", b"[" * 100_000 + b"]" * 100_000])
def test_unparseable_bodies_fail_json_checks_without_raising(body: bytes) -> None:
    assert failed(Checks(json={"a": 1}), body=body) == ("r: json a == 1",)


def test_json_top_level_list_is_walked_by_index() -> None:
    assert failed(Checks(json={"1.id": 7}), body=b'[{"id": 1}, {"id": 7}]') == ()


def test_body_contains_compares_utf8_bytes() -> None:
    body = '{"city": "Zürich"}'.encode()
    assert failed(Checks(body_contains=("Zürich",)), body=body) == ()
    assert failed(Checks(body_contains=("Zurich",)), body=body) == ("r: body contains 'Zurich'",)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"content-type": "application/json"}, id="lower-case-dict"),
        pytest.param({"Content-Type": "application/json"}, id="mixed-case-dict"),
        pytest.param({"CONTENT-TYPE": "application/json"}, id="upper-case-dict"),
        pytest.param(httpx.Headers({"Content-Type": "application/json"}), id="httpx-headers"),
    ],
)
def test_header_names_match_whatever_their_case(headers: Any) -> None:
    assert failed(Checks(headers={"content-type": "application/json"}), headers=headers) == ()


def test_several_failures_come_in_check_names_order() -> None:
    spec = RequestSpec(
        name="r",
        checks=Checks(
            body_contains=("missing",),
            json={"status": "down", "count": 2, "items.9": 1},
            headers={"x-trace": None, "content-type": "application/json"},
        ),
    )
    names = check_names(spec)
    assert failed(spec.checks) == (names[0], names[1], names[3], names[4])


@pytest.mark.parametrize(
    ("body", "passes"),
    [
        (b'{"n": 12345678901234567890}', True),  # past 64 bits: json's int, not a float
        (b'{"n": 12345678901234567890.0}', False),
        ('{"n": 12345678901234567890}'.encode("utf-16"), True),  # json reads UTF-16
        (b'{"n": NaN}', False),  # json reads NaN; it is no int
        (b'{"n": 1, "n": 12345678901234567890}', True),  # the last key wins, as in json
    ],
)
def test_json_checks_read_the_body_as_json_does(body: bytes, passes: bool) -> None:
    """The document is read by orjson when it can (~4x faster), always as `json` reads it."""
    assert failed_checks(Checks(json={"n": 12345678901234567890}), "r", {}, body) == (
        () if passes else ("r: json n == 12345678901234567890",)
    )


def test_a_judge_tells_an_unexpected_status_a_failed_check_and_a_success_apart() -> None:
    """`failures` is what the fast engine reads to record a success without building a
    RequestResult; `result` builds the same record as `judge` for each."""
    spec = RequestSpec(name="r", expect_status=(200,), checks=Checks(json={"status": "ok"}))
    judge = Judge(spec, "GET /")
    body_reads: list[int] = []

    def body(content: bytes) -> Any:
        def read() -> bytes:
            body_reads.append(1)
            return content

        return read

    cases = [
        (500, BODY, None, ErrorKind.HTTP_5XX),
        (200, b'{"status": "down"}', ("r: json status == 'ok'",), ErrorKind.CHECK_FAILED),
        (200, BODY, (), None),
    ]
    for status, content, failures, error in cases:
        assert judge.failures(status, HEADERS, body(content)) == failures
        result = judge.result(1.0, 0.5, 0.0, status, 3, failures)
        assert result == judge.judge(1.0, 0.5, 0.0, status, 3, HEADERS, body(content))
        assert result.error is error
    assert len(body_reads) == 4  # no check runs, so no body is read, for an unexpected status
    plain = Judge(RequestSpec(name="p"), "GET /")
    assert plain.failures(200, {}, lambda: pytest.fail("read")) == ()
