"""--http-debug: the first N exchanges of a scenario, as sent and received, on stderr.

Each load runs through `drive` with the recipe the runner builds
(`EngineRecipe.for_scenario`), against tests/servers/conformance.py on 127.0.0.1, on
both engines and every load model; pytest's capsys holds what was printed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfrun.engine.debug import HttpDebug
from perfrun.engine.factory import EngineRecipe
from perfrun.engine.fast import FastEngine
from perfrun.engine.fast_debug import DebugDialer, Traced
from perfrun.engine.fast_dial import Dialer
from perfrun.engine.fast_wire import Connection, FullConnection
from perfrun.engine.httpx_engine import HttpxEngine, HttpxSession
from perfrun.execution.drive import drive
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import (
    Checks,
    EngineChoice,
    LoadModel,
    LoadSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
)
from tests.servers.launch import start_target

SERVER_SCRIPT = Path(__file__).parents[1] / "servers" / "conformance.py"
ENGINES = ("fast", "httpx")
TOKEN, COOKIE, API_KEY, SET_COOKIE = "tok-1f2e3d", "ck-4c5b6a", "key-7a8b9c", "sc-0d1e2f"
SECRET = RequestSpec(
    name="secret",
    path=f"/set-cookies?c=session={SET_COOKIE}; Path=/",
    headers={"Authorization": f"Bearer {TOKEN}", "Cookie": f"sid={COOKIE}", "X-Api-Key": API_KEY},
)
TITLE = re.compile(r"^http-debug #(\d+) (\S+)/(\S+)$", re.M)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start_target(script=SERVER_SCRIPT) as process:
        yield process.url


def run(
    engine: str, url: str, load: LoadSpec, *requests: RequestSpec, debug: int,
    bodies: bool = False, flow: bool = False, redirects: int = 0,
) -> ScenarioStats:  # fmt: skip
    """Drive the load with --http-debug=`debug` on `engine`; the stats. A users load
    without `flow` runs the plain closed model (no cookies, no redirects: on the fast
    engine, its lean callbacks); a flow keeps cookies and follows `redirects`."""
    scenario = Scenario("dbg", ScenarioType.LOAD, Severity.LOW, url, requests, load,
                        engine=EngineChoice(engine), flow=flow, cookies=flow,
                        max_redirects=redirects)  # fmt: skip
    recipe = EngineRecipe.for_scenario(engine, url, scenario, http_debug=debug,
                                       http_debug_bodies=bodies)  # fmt: skip
    stats = ScenarioStats.for_load(load)
    assert not drive(scenario, recipe, stats, signals=()), "interrupted"
    return stats


def exchanges(err: str) -> list[tuple[int, str, str]]:
    """(number, scenario, endpoint) of every exchange printed."""
    return [(int(n), scenario, endpoint) for n, scenario, endpoint in TITLE.findall(err)]


def block(err: str, number: int) -> str:
    """Exchange `number`'s block."""
    (found,) = [b for b in err.split("\n\n") if b.startswith(f"http-debug #{number} ")]
    return found


def received(err: str) -> str:
    """The response lines printed."""
    return "\n".join(line for line in err.splitlines() if line.startswith("<"))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_first_n_exchanges_are_printed_then_one_line_says_the_rest_are_not(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    load = LoadSpec(users=2, requests_per_user=5, timeout=5.0)
    stats = run(engine, server, load, RequestSpec(name="sized", path="/sized/10"), debug=3)

    err = capsys.readouterr().err
    assert stats.overall.total == 10
    assert sorted(exchanges(err)) == [(n, "dbg", "sized") for n in (1, 2, 3)]
    assert err.count("> GET /sized/10 HTTP/1.1") == 3
    assert err.count("< HTTP/1.1 200 OK") == 3
    assert err.count("further exchanges of dbg are not shown") == 1
    assert err.rstrip().endswith("(the first 3 in this process were)")


@pytest.mark.parametrize("engine", ENGINES)
def test_credentials_and_cookie_values_never_appear(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(engine, server, LoadSpec(users=1, requests_per_user=2), SECRET, debug=2)

    err = capsys.readouterr().err
    assert len(exchanges(err)) == 2
    for secret in (TOKEN, COOKIE, API_KEY):
        assert secret not in err
    assert SET_COOKIE not in received(err)  # the test's request target holds it on purpose
    assert err.count("> Authorization: Bearer ***") == 2
    assert err.count("> Cookie: sid=***") == 2
    assert err.count("> X-Api-Key: ***") == 2
    assert err.count("< Set-Cookie: session=***; Path=/") == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_bodies_only_when_asked_and_cut_at_2_kb(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    echo = RequestSpec(name="echo", method="POST", path="/echo", body="hello-body")
    big = RequestSpec(name="big", path="/sized/3000")
    load = LoadSpec(users=1, requests_per_user=1)

    run(engine, server, load, echo, debug=1)
    run(engine, server, load, big, debug=1)
    without = capsys.readouterr().err
    run(engine, server, load, echo, debug=1, bodies=True)
    run(engine, server, load, big, debug=1, bodies=True)
    with_bodies = capsys.readouterr().err

    assert "hello-body" not in without
    assert "000000000,000000001" not in without
    assert "> [10 body bytes]" in without
    assert "< [10 body bytes]" in without  # the echo
    assert "< [3000 body bytes]" in without
    assert "> hello-body" in with_bodies
    assert "< hello-body" in with_bodies
    assert "< 000000000,000000001," in with_bodies
    assert "< [first 2048 of 3000 body bytes shown]" in with_bodies
    assert "000000203,00000020\n" in with_bodies  # 10-byte records: 2048 bytes end here
    assert "000000204" not in with_bodies


@pytest.mark.parametrize("engine", ENGINES)
def test_every_exchange_shown_has_its_body_also_when_responses_repeat(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One connection, the same response four times, to the byte: the fast engine
    parses none but the first, unless it is shown (`Connection._known`)."""
    load = LoadSpec(users=1, requests_per_user=4)
    run(engine, server, load, RequestSpec(name="same", path="/same/10"), debug=4, bodies=True)

    err = capsys.readouterr().err
    assert len(exchanges(err)) == 4
    assert err.count("< 000000000,") == 4, err
    assert "body bytes shown" not in err


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_is_printed_when_off(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(engine, server, LoadSpec(users=1, requests_per_user=3), SECRET, debug=0)

    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_exchanges_print_their_error_kind(
    engine: str, server: str, refused_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    load = LoadSpec(users=1, requests_per_user=1, timeout=0.3)
    run(engine, refused_url, load, RequestSpec(name="refused"), debug=5)
    run(engine, server, load, RequestSpec(name="slow", path="/slow/3000"), debug=5)

    err = capsys.readouterr().err
    assert [e[2] for e in exchanges(err)] == ["refused", "slow"]
    refused, slow = err.split("http-debug #1 dbg/slow")
    assert "\n! connect_refused: " in refused
    assert "> GET /slow/3000 HTTP/1.1" in slow
    assert "\n! timeout: " in slow
    assert "< HTTP/1.1" not in slow


@pytest.mark.parametrize("engine", ENGINES)
def test_the_open_model_prints_its_first_exchanges(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    load = LoadSpec(model=LoadModel.OPEN, rate=40, duration=0.5, timeout=5.0)
    hop = RequestSpec(name="open", path="/redirect/302/path/empty")
    stats = run(engine, server, load, hop, debug=2, redirects=1)

    err = capsys.readouterr().err
    assert stats.overall.total >= 10
    assert sorted(exchanges(err)) == [(1, "dbg", "open"), (2, "dbg", "open")]
    assert err.count("further exchanges of dbg are not shown") == 1
    first = block(err, 1)  # the first request's first hop
    assert "> GET /redirect/302/path/empty HTTP/1.1" in first
    assert "< HTTP/1.1 302 Found" in first


@pytest.mark.parametrize("engine", ENGINES)
def test_a_flow_prints_each_step_with_the_cookie_it_sends(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    login = RequestSpec(name="login", path=f"/set-cookies?c=sid={SET_COOKIE}", once=True)
    account = RequestSpec(name="account", path="/request-header/cookie")
    load = LoadSpec(users=1, iterations=2, timeout=5.0)
    stats = run(engine, server, load, login, account, debug=10, flow=True, redirects=10)

    err = capsys.readouterr().err
    assert stats.overall.total == 3
    assert [e[2] for e in sorted(exchanges(err))] == ["login", "account", "account"]
    assert err.count("> Cookie: sid=***") == 2
    assert err.count("< Set-Cookie: sid=***") == 1
    assert SET_COOKIE not in received(err)  # the login's request target holds it


@pytest.mark.parametrize("engine", ENGINES)
def test_a_redirect_shows_each_hop(
    engine: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hop = RequestSpec(name="hop", path="/redirect/302/path/empty", once=True)
    load = LoadSpec(users=1, iterations=1)
    stats = run(engine, server, load, hop, debug=5, flow=True, redirects=10)

    err = capsys.readouterr().err
    assert stats.overall.total == 1
    assert sorted(exchanges(err)) == [(1, "dbg", "hop"), (2, "dbg", "hop")]
    assert "< HTTP/1.1 302 Found" in err
    assert "> GET /empty HTTP/1.1" in err


def test_without_debug_the_engines_use_their_plain_classes(server: str) -> None:
    spec = RequestSpec(name="get", path="/empty")

    async def connection_types(engine: FastEngine) -> tuple[type[Dialer], type[Connection]]:
        session = engine.session()
        result = await session.send(spec)
        assert result.error is None
        assert session.conn is not None
        kinds = type(engine.dialer), type(session.conn)
        await session.aclose()
        await engine.aclose()
        return kinds

    plain = FastEngine(server, 5.0, [spec])
    assert asyncio.run(connection_types(plain)) == (Dialer, Connection)
    traced = FastEngine(server, 5.0, [spec], debug=HttpDebug(1))
    dialer, connection = asyncio.run(connection_types(traced))
    assert dialer is DebugDialer
    assert issubclass(connection, Traced)
    assert connection.__mro__[2] is Connection  # Traced, in front of the plain class
    body_check = RequestSpec(name="b", checks=Checks(body_contains=("x",)))
    checked = FastEngine(server, 5.0, [body_check], debug=HttpDebug(1))
    assert issubclass(checked.dialer.kind, Traced)
    assert checked.dialer.kind.__mro__[2] is FullConnection

    engine = HttpxEngine(server, 5.0, [spec])
    assert type(engine.session()) is HttpxSession
    traced_httpx = HttpxEngine(server, 5.0, [spec], debug=HttpDebug(1))
    assert type(traced_httpx.session()) is not HttpxSession
