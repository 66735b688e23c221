"""Flows against a real third-party app, as a new user would try them: httpbin (PyPI)
served by gunicorn on 127.0.0.1, on both engines, through perfrun's own run path
(scenario YAML -> load_file -> drive). Cookies per user, redirects counted, basic and
bearer auth, and /anything echoing what a templated step sent, compared with what
perfrun rendered."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from perfrun.engine.factory import EngineRecipe
from perfrun.engine.flow import render
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import Scenario
from perfrun.scenario.templates import Context
from tests.servers.launch import TargetProcess, start_server
from tests.support.runs import run_scenario_file

pytest.importorskip("httpbin", reason="the third-party app of these tests (the test extra)")
pytest.importorskip("gunicorn", reason="httpbin's server in these tests (the test extra)")

ENGINES = pytest.mark.parametrize("engine", ["fast", "httpx"])
USERS, ITERATIONS = 4, 3
ROUNDS = USERS * ITERATIONS


@pytest.fixture(scope="module")
def httpbin() -> Iterator[TargetProcess]:
    """gunicorn serving httpbin:app; threads, so that keep-alive connections are kept.
    No control socket: by default every gunicorn shares $HOME/.gunicorn/gunicorn.ctl,
    which two test runs at once (or a developer's own gunicorn) would fight over."""

    def command(fd: int) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}", "--workers", "1",
            "--threads", str(USERS), "--no-control-socket", "httpbin:app",
        ]  # fmt: skip

    with start_server(command, ready_path="/get") as server:
        yield server


def run(tmp_path: Path, url: str, engine: str, scenario: str, rows: str = "") -> ScenarioStats:
    """Write users.csv (user u0..u3, password p0..p3, token t0..t3, unless `rows`) and
    the scenario (its `flow:` and keys under the scenario), run it; its stats."""
    rows = rows or "".join(f"u{i},p{i},t{i}\n" for i in range(USERS))
    (tmp_path / "users.csv").write_text("user,password,token\n" + rows, encoding="utf-8")
    path = tmp_path / "httpbin.yaml"
    path.write_text(
        "scenarios:\n  httpbin:\n    type: load\n    severity: high\n"
        f"    base_url: {url}\n    data: {{file: users.csv, order: unique}}\n"
        + textwrap.indent(textwrap.dedent(scenario), "    ")
        + f"    load: {{users: {USERS}, iterations: {ITERATIONS}}}\n",
        encoding="utf-8",
    )
    return run_scenario_file(path, engine)


def succeeded(stats: ScenarioStats) -> dict[str, int]:
    return {name: e.succeeded for name, e in stats.endpoints.items()}


COOKIES = """\
cookies: {cookies}
flow:
  - name: set
    path: /cookies/set?session={{{{ user }}}}
  - name: show
    path: /cookies
    capture:
      seen: {{json: cookies.session}}
  - name: mine
    path: /basic-auth/{{{{ seen }}}}/{{{{ password }}}}
    auth: {{basic: ["{{{{ user }}}}", "{{{{ password }}}}"]}}
"""
"""`set` answers 302 -> /cookies; `show` reads the user's cookie back; `mine` succeeds
only when the cookie seen is the user's own (httpbin's basic-auth path names who may)."""


@ENGINES
def test_each_user_keeps_its_own_cookies(
    tmp_path: Path, httpbin: TargetProcess, engine: str
) -> None:
    stats = run(tmp_path, httpbin.url, engine, COOKIES.format(cookies="true"))

    assert stats.overall.failed == 0, (dict(stats.overall.errors), stats.error_samples)
    assert succeeded(stats) == {"set": ROUNDS, "show": ROUNDS, "mine": ROUNDS}
    assert stats.endpoints["set"].redirects == ROUNDS


@ENGINES
def test_without_cookies_the_server_sees_none(
    tmp_path: Path, httpbin: TargetProcess, engine: str
) -> None:
    stats = run(tmp_path, httpbin.url, engine, COOKIES.format(cookies="false"))

    assert succeeded(stats)["set"] == ROUNDS
    assert stats.endpoints["show"].errors == {"capture_failed": ROUNDS}
    assert "mine" not in stats.endpoints


REDIRECTS = """\
max_redirects: {max_redirects}
flow:
  - name: chain
    path: /redirect/3
    expect_status: {expect}
"""


@ENGINES
def test_a_redirect_chain_is_followed_and_its_redirects_counted(
    tmp_path: Path, httpbin: TargetProcess, engine: str
) -> None:
    stats = run(tmp_path, httpbin.url, engine, REDIRECTS.format(max_redirects=10, expect=200))

    chain = stats.endpoints["chain"]
    assert (chain.succeeded, chain.failed) == (ROUNDS, 0), stats.error_samples
    assert chain.redirects == 3 * ROUNDS


@ENGINES
@pytest.mark.parametrize(("expect", "errors"), [(302, {}), (200, {"unexpected_status": ROUNDS})])
def test_without_redirects_a_302_is_judged_against_expect_status(
    tmp_path: Path, httpbin: TargetProcess, engine: str, expect: int, errors: dict[str, int]
) -> None:
    text = REDIRECTS.format(max_redirects=0, expect=expect)
    stats = run(tmp_path, httpbin.url, engine, text)

    chain = stats.endpoints["chain"]
    assert chain.total == ROUNDS
    assert dict(chain.errors) == errors
    assert chain.redirects == 0


AUTH = """\
flow:
  - name: basic
    path: /basic-auth/{{ user }}/{{ password }}
    auth: {basic: ["{{ user }}", "{{ password }}"]}
    expect_json: {authenticated: true}
  - name: wrong_password
    path: /basic-auth/{{ user }}/{{ password }}
    auth: {basic: ["{{ user }}", "not-{{ password }}"]}
  - name: bearer
    path: /bearer
    auth: {bearer: "{{ token }}"}
    capture:
      sent: {json: token}
  - name: bearer_echoed
    path: /basic-auth/{{ sent }}/x
    auth: {basic: ["{{ token }}", x]}
  - name: no_token
    path: /bearer
"""
"""`bearer_echoed` succeeds only when httpbin saw exactly this user's token."""


@ENGINES
def test_basic_and_bearer_auth(tmp_path: Path, httpbin: TargetProcess, engine: str) -> None:
    stats = run(tmp_path, httpbin.url, engine, AUTH)

    endpoints = stats.endpoints
    assert succeeded(stats) == {
        "basic": ROUNDS,
        "wrong_password": 0,
        "bearer": ROUNDS,
        "bearer_echoed": ROUNDS,
        "no_token": 0,
    }, stats.error_samples
    assert endpoints["wrong_password"].errors == {"http_4xx": ROUNDS}
    assert endpoints["no_token"].errors == {"http_4xx": ROUNDS}


ANYTHING = """\
scenarios:
  echo:
    type: load
    severity: high
    base_url: {url}
    data: {{file: rows.json}}
    flow:
      - name: anything
        method: POST
        path: /anything/{{{{ who }}}}/{{{{ $user }}}}?q={{{{ note }}}}&i={{{{ $iteration }}}}
        headers:
          X-Tag: "{{{{ tag }}}} <{{{{ $user }}}}>"
          X-Trace: "{{{{ $uuid }}}}"
        json:
          who: "{{{{ who }}}}"
          text: "{{{{ text }}}}"
          list: ["{{{{ note }}}}", 7, {{pick: "{{{{ $random_int(1, 1000) }}}}"}}]
        capture:
          method: {{json: method}}
    load: {{users: 1, iterations: 1}}
"""
ROWS: list[dict[str, str]] = [
    {"who": "Zoë", "note": 'quote " and 100%', "tag": 'a "q"; b=c, d', "text": "tab\tnl\n"},
    {"who": "a b", "note": "ünïcødé ✓", "tag": "x/y\\z", "text": 'back\\slash "q" ✓'},
    {"who": "o'brien", "note": "?=x;y", "tag": "{}[]", "text": '{"not": "json"}'},
]
"""Values a mangling would change: non-ASCII, quotes, escapes, spaces, JSON-looking text
(header values ASCII: httpx sends no other)."""


@ENGINES
def test_anything_echoes_the_rendered_path_query_headers_and_json_exactly(
    tmp_path: Path, httpbin: TargetProcess, engine: str
) -> None:
    """Each row is rendered as a user's step is, sent on a session of the engine, and
    httpbin's echo of it compared with the rendering, value by value."""
    (tmp_path / "rows.json").write_text(json.dumps(ROWS), encoding="utf-8")
    path = tmp_path / "echo.yaml"
    path.write_text(ANYTHING.format(url=httpbin.url), encoding="utf-8")
    (scenario,) = load_file(path, {})

    echoes = asyncio.run(exchange_rows(scenario, engine))

    assert len(echoes) == len(ROWS)
    for user, (row, (rendered, echo)) in enumerate(zip(ROWS, echoes, strict=True)):
        rendered_path, _, query = rendered.path.partition("?")
        assert rendered_path == f"/anything/{row['who']}/{user}"
        assert unquote(urlsplit(echo["url"]).path) == rendered_path
        assert query == f"q={row['note']}&i=0"
        assert echo["args"] == {"q": row["note"], "i": "0"}
        assert echo["method"] == "POST"
        assert rendered.headers["X-Tag"] == f"{row['tag']} <{user}>"
        for name, value in rendered.headers.items():
            assert echo["headers"][name] == value
        assert rendered.body is not None
        assert echo["data"] == rendered.body.decode()
        assert echo["json"] == json.loads(rendered.body)
        assert echo["json"]["who"] == row["who"]
        assert echo["json"]["text"] == row["text"]
        assert echo["json"]["list"][0] == row["note"]
        assert 1 <= int(echo["json"]["list"][2]["pick"]) <= 1000


async def exchange_rows(scenario: Scenario, engine_name: str) -> list[tuple[Any, Any]]:
    """Each data row rendered for user i, iteration 0, sent on one session of the
    engine; (the rendering, httpbin's echo as JSON)."""
    (step,) = scenario.requests
    assert scenario.data is not None
    engine = EngineRecipe.for_scenario(engine_name, scenario.base_url, scenario)()
    session = engine.session()
    results = []
    try:
        for index, row in enumerate(scenario.data.rows):
            rendered = render(step, row, Context(index, 0, random.Random(index)))
            assert rendered is not None
            exchange = await session.exchange(step, rendered, True, 10)
            assert exchange.result.error is None, exchange.result.detail
            results.append((rendered, json.loads(exchange.body)))
    finally:
        await session.aclose()
        await engine.aclose()
    return results
