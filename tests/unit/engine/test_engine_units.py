"""Pure parts of the engine: ramp schedule, request mix, error classification."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest

from perfrun.engine.closed import ramp_delays
from perfrun.engine.httpx_engine import classify
from perfrun.engine.mix import RequestMix
from perfrun.metrics.result import ErrorKind, status_error
from perfrun.scenario.model import RequestSpec


@pytest.mark.parametrize(
    ("users", "ramp", "expected"),
    [
        (1, 10.0, [0.0]),
        (4, 0.0, [0.0, 0.0, 0.0, 0.0]),
        (4, 2.0, [0.0, 0.5, 1.0, 1.5]),
        (5, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_ramp_spreads_user_starts_linearly(users: int, ramp: float, expected: list[float]) -> None:
    assert ramp_delays(users, ramp) == pytest.approx(expected)


def test_mix_picks_in_proportion_to_weight() -> None:
    mix = RequestMix([RequestSpec("a", weight=3), RequestSpec("b", weight=1)])
    rng = random.Random(7)
    counts = Counter(mix.pick(rng).name for _ in range(20_000))
    assert counts["a"] / 20_000 == pytest.approx(0.75, abs=0.015)


def test_mix_of_one_always_picks_it() -> None:
    only = RequestSpec("only")
    assert RequestMix([only]).pick(random.Random()) is only


_REQ = httpx.Request("GET", "http://127.0.0.1/")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("t", request=_REQ), ErrorKind.CONNECT_TIMEOUT),
        (httpx.ReadTimeout("t", request=_REQ), ErrorKind.TIMEOUT),
        (httpx.PoolTimeout("t", request=_REQ), ErrorKind.TIMEOUT),
        (TimeoutError(), ErrorKind.TIMEOUT),
        (
            httpx.ConnectError("[Errno 111] Connection refused", request=_REQ),
            ErrorKind.CONNECT_REFUSED,
        ),
        (httpx.ConnectError("Name or service not known", request=_REQ), ErrorKind.CONNECT_ERROR),
        (httpx.ReadError("reset", request=_REQ), ErrorKind.RESET),
        (
            httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=_REQ
            ),
            ErrorKind.RESET,
        ),
        (httpx.RemoteProtocolError("illegal header", request=_REQ), ErrorKind.PROTOCOL),
        (ConnectionResetError(), ErrorKind.RESET),
        (ValueError("odd"), ErrorKind.OTHER),
    ],
)
def test_classify_maps_exceptions_to_stable_kinds(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc)[0] is kind


def test_classify_follows_the_cause_chain_for_refused() -> None:
    inner = ConnectionRefusedError(111, "nope")
    outer = httpx.ConnectError("all connection attempts failed", request=_REQ)
    outer.__cause__ = inner
    assert classify(outer)[0] is ErrorKind.CONNECT_REFUSED


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, ErrorKind.HTTP_4XX),
        (503, ErrorKind.HTTP_5XX),
        (302, ErrorKind.UNEXPECTED_STATUS),
        (200, ErrorKind.UNEXPECTED_STATUS),
    ],
)
def test_unexpected_status_kind(status: int, kind: ErrorKind) -> None:
    assert status_error(status) is kind
