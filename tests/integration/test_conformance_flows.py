"""Both engines give the same outcomes for the same flows against the conformance server.

Each flow (captures, cookies, redirects, templates, auth) is a scenario loaded from YAML
and run through perfrun's public run path (`perfrun.execution.drive.drive`, as
tests/integration/test_flows.py does) on the httpx engine (the reference) and on the fast
engine, one user, so the recorded results are that user's sequence. Each sequence is held
to the flow's expected one, and the two engines' sequences and per-endpoint figures are
compared with each other.

What reached the server is judged inside the flows: tests/servers/conformance.py's
`/received` answers with what arrived (method, target, body, cookies, authorization, X-
headers), and the steps check it with `expect_json`: a request that did not arrive as
rendered fails as `check_failed`. Its size is compared too, so the engines must also
agree on what the flows do not check.

A record is (endpoint, status, error kind, redirects, bytes). A success's status is left
out (None): it is one of the step's expected statuses by definition, and a recorder of
successes that skips building a RequestResult (ScenarioStats.ok) does not say which.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

from perfrun.engine.factory import EngineRecipe
from perfrun.execution.drive import drive
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import EndpointStats
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import RequestSpec
from tests.servers.launch import start_target
from tests.support.recording import RecordingStats

SERVER_SCRIPT = Path(__file__).parents[1] / "servers" / "conformance.py"
ENGINES = ("httpx", "fast")


class Record(NamedTuple):
    endpoint: str
    status: int | None
    """None for a success (see the module's docstring)."""
    error: ErrorKind | None = None
    redirects: int = 0
    bytes_received: int | None = None
    """None in an expected record: any size, as long as both engines agree."""


def ok(endpoint: str, redirects: int = 0, size: int | None = None) -> Record:
    return Record(endpoint, None, None, redirects, size)


def failed(
    endpoint: str, status: int, error: ErrorKind, redirects: int = 0, size: int | None = None
) -> Record:
    return Record(endpoint, status, error, redirects, size)


@dataclass(frozen=True)
class Flow:
    """A one-user scenario and the sequence of records it must yield. `id` names the
    behaviour; `keys` are scenario keys (YAML) besides the flow; `rows` a users.csv."""

    id: str
    steps: str
    expected: tuple[Record, ...]
    iterations: int = 1
    keys: str = ""
    rows: str = ""
    timeout: str = "5s"

    def yaml(self, url: str) -> str:
        head = f"""\
            scenarios:
              {self.id}:
                type: load
                severity: high
                base_url: {url}
            """
        keys = textwrap.indent(textwrap.dedent(self.keys), " " * 4)
        if self.rows:
            keys += "    data: {file: users.csv, order: unique}\n"
        steps = textwrap.indent(textwrap.dedent(self.steps), " " * 6)
        load = f"    load: {{users: 1, iterations: {self.iterations}, timeout: {self.timeout}}}\n"
        return textwrap.dedent(head) + keys + "    flow:\n" + steps + load


CAPTURES = (
    Flow(
        "captures_of_every_kind_feed_the_next_step",
        """\
        - name: take
          path: /headers
          capture:
            item: {json: "items[?id==`2`].id | [0]"}
            test: {header: X-TEST}
        - name: regex
          path: /sized/100
          capture:
            record: {regex: "(0000000\\\\d5),"}
        - name: status
          path: /status/201
          expect_status: 201
          capture:
            code: {status: true}
        - name: use
          path: /received/{{ item }}?t={{ test }}&r={{ record }}&s={{ code }}
          expect_json: {target: "/received/2?t=a&r=000000005&s=201"}
        """,
        (ok("take", size=50), ok("regex", size=100), ok("status", size=15), ok("use")) * 2,
        iterations=2,
    ),
    *(
        Flow(
            f"{kind}_capture_that_finds_nothing_skips_the_rest_of_the_iteration",
            f"""\
            - name: first
              path: /sized/10
            - name: miss
              path: /headers
              capture:
                gone: {{{kind}: "{expression}"}}
            - name: after
              path: /received/{{{{ gone }}}}
            """,
            (ok("first", size=10), failed("miss", 200, ErrorKind.CAPTURE_FAILED, size=50)) * 2,
            iterations=2,
        )
        for kind, expression in (
            ("json", "items[5].id"),
            ("header", "X-Absent"),
            ("regex", "absent=(\\\\d+)"),
        )
    ),
    Flow(
        "a_header_sent_twice_is_captured_as_its_values_joined",
        """\
        - name: take
          path: /headers
          capture:
            multi: {header: x-multi}
        - name: use
          path: /received/use
          headers: {X-Seen: "{{ multi }}"}
          expect_json: {x.x-seen: "one, two"}
        """,
        (ok("take", size=50), ok("use")),
    ),
    Flow(
        "a_failed_step_without_captures_does_not_end_the_iteration",
        """\
        - name: missing
          path: /status/404
        - name: after
          path: /sized/10
        """,
        (failed("missing", 404, ErrorKind.HTTP_4XX, size=15), ok("after", size=10)) * 2,
        iterations=2,
    ),
    Flow(
        "a_failed_once_step_ends_the_iteration_and_is_tried_again",
        """\
        - name: login
          once: true
          path: /fail-until/2/{{ $iteration }}
          capture:
            i: {json: i}
        - name: use
          path: /received/{{ i }}
          expect_json: {target: /received/2}
        """,
        (
            failed("login", 503, ErrorKind.HTTP_5XX, size=15),
            failed("login", 503, ErrorKind.HTTP_5XX, size=15),
            ok("login", size=8),
            ok("use"),
            ok("use"),
        ),
        iterations=4,
    ),
)

COOKIES = (
    Flow(
        "cookies_follow_their_path_and_max_age_0_deletes_one",
        """\
        - name: set
          path: /set-cookies?c=a=1&c=b=2;Path=/received/b&c=gone=x
        - name: root
          path: /received/a
          expect_json: {cookie: 'a=1; gone=x'}
        - name: deep
          path: /received/b/c
          expect_json: {cookie: 'b=2; a=1; gone=x'}
        - name: delete
          path: /set-cookies?c=gone=;Max-Age=0
        - name: after
          path: /received/b/c
          expect_json: {cookie: 'b=2; a=1'}
        """,
        (ok("set", size=10), ok("root"), ok("deep"), ok("delete", size=10), ok("after")) * 2,
        iterations=2,
    ),
    Flow(
        "a_cookie_set_on_a_redirect_goes_with_the_next_hop",
        """\
        - name: hop
          path: /set-cookies?c=hop=1&to=/received/landed
          expect_json: {cookie: 'hop=1', target: /received/landed}
        - name: later
          path: /received/later
          expect_json: {cookie: 'hop=1'}
        """,
        (ok("hop", redirects=1), ok("later")),
    ),
    Flow(
        "without_cookies_none_is_sent_even_inside_a_redirect_chain",
        """\
        - name: set
          path: /set-cookies?c=a=1&c=b=2
        - name: root
          path: /received/a
          expect_json: {cookie: null}
        - name: hop
          path: /set-cookies?c=hop=1&to=/received/landed
          expect_json: {cookie: null, target: /received/landed}
        """,
        (ok("set", size=10), ok("root"), ok("hop", redirects=1)),
        keys="cookies: false\n",
    ),
)


def _redirected(name: str, code: int, method: str, landing: str) -> str:
    """A step sending `method` with a JSON body to a `code` redirect, which must land as
    `landing`: the body and its Content-Type resent when the method is kept, else none
    (RFC 9110 section 15.4: a request changed to GET drops its content headers)."""
    if landing == method:
        seen = f"{{method: {landing}, json: {{a: 1}}, length: '8', type: application/json}}"
    else:
        seen = f"{{method: {landing}, body: '', length: null, type: null}}"
    return textwrap.dedent(f"""\
        - name: {name}
          method: {method}
          path: /redirect/{code}/path/received/{name}
          json: {{a: 1}}
          expect_json: {seen}
    """)


KEEPING = (
    ("post_307", 307, "POST", "POST"),
    ("post_308", 308, "POST", "POST"),
    ("put_301", 301, "PUT", "PUT"),
    ("put_307", 307, "PUT", "PUT"),
)
CHANGING = (
    ("post_301", 301, "POST", "GET"),
    ("post_302", 302, "POST", "GET"),
    ("post_303", 303, "POST", "GET"),
    ("put_302", 302, "PUT", "GET"),
    ("put_303", 303, "PUT", "GET"),
)

REDIRECTS = (
    Flow(
        "redirects_307_308_and_301_after_put_resend_the_method_and_body",
        "".join(_redirected(*rule) for rule in KEEPING)
        + textwrap.dedent("""\
        - name: head_303
          method: HEAD
          path: /redirect/303/path/received/head_303
          expect_header: {x-method: HEAD}
        - name: templated_307
          method: POST
          path: /redirect/307/path/received/templated_307
          json: {w: "{{ word }}"}
          expect_json: {method: POST, json.w: hello}
        """),
        (
            *(ok(name, redirects=1) for name, *_ in KEEPING),
            ok("head_303", redirects=1, size=0),
            ok("templated_307", redirects=1),
        ),
        rows="word\nhello\n",
    ),
    Flow(
        "redirects_301_after_post_302_and_303_continue_as_a_get_without_body",
        "".join(_redirected(*rule) for rule in CHANGING),
        tuple(ok(name, redirects=1) for name, *_ in CHANGING),
    ),
    Flow(
        "every_same_origin_location_form_is_followed",
        """\
        - name: relative
          path: /redirect/302/relative/received/relative?q=1
          expect_json: {target: '/received/relative?q=1'}
        - name: absolute
          path: /redirect/307/absolute/received/absolute
          expect_json: {target: /received/absolute}
        - name: rooted
          path: /redirect/308/path/received/rooted
          expect_json: {target: /received/rooted}
        - name: two_hops
          path: /redirect/301/path/redirect/302/relative/received/two_hops
          expect_json: {target: /received/two_hops}
        """,
        (
            ok("relative", redirects=1),
            ok("absolute", redirects=1),
            ok("rooted", redirects=1),
            ok("two_hops", redirects=2),
        ),
    ),
    Flow(
        "a_chain_longer_than_max_redirects_fails_and_the_iteration_goes_on",
        """\
        - name: loop
          path: /loop/0
        - name: after
          path: /sized/10
        """,
        (failed("loop", 302, ErrorKind.OTHER, 3, 2), ok("after", size=10)) * 2,
        iterations=2,
        keys="max_redirects: 3\n",
    ),
    Flow(
        "an_explicit_content_type_goes_with_the_body_when_the_method_changes",
        """\
        - name: form_303
          method: POST
          path: /redirect/303/path/received/form_303
          headers: {Content-Type: application/x-www-form-urlencoded}
          body: a=1
          expect_json: {method: GET, body: '', length: null, type: null}
        """,
        (ok("form_303", redirects=1),),
    ),
    Flow(
        # A one-step flow with nothing templated takes the fast engine's quick path:
        # each iteration's chain counted whole, the next one starting afresh.
        "a_plain_step_follows_its_redirects_at_every_iteration",
        """\
        - name: chain
          path: /redirect/302/path/redirect/302/path/sized/10
        """,
        (ok("chain", redirects=2, size=10),) * 5,
        iterations=5,
        keys="max_redirects: 3\n",
    ),
    Flow(
        "a_templated_body_that_renders_empty_sends_no_content_length_on_a_get",
        """\
        - name: empty
          path: /received
          body: "{{ v }}"
          expect_json: {length: null}
        - name: empty_post
          method: POST
          path: /received
          body: "{{ v }}"
          expect_json: {length: '0'}
        """,
        (ok("empty"), ok("empty_post")),
        rows="v,w\n,x\n",
    ),
    Flow(
        "the_timeout_covers_the_whole_chain",
        """\
        - name: slow_chain
          path: /slow_redirect/600/slow_redirect/600/sized/10
        - name: after
          path: /sized/10
        """,
        (failed("slow_chain", 0, ErrorKind.TIMEOUT, redirects=1), ok("after", size=10)),
        keys="",
        timeout="1s",
    ),
    Flow(
        "a_3xx_that_is_expected_is_still_followed",
        """\
        - name: chain
          path: /redirect/302/path/sized/10
          expect_status: [200, 302]
        """,
        (ok("chain", redirects=1, size=10),) * 4,
        iterations=4,
    ),
    Flow(
        "with_max_redirects_0_a_3xx_is_judged_like_any_status",
        """\
        - name: unexpected
          path: /redirect/302/path/received/x
        - name: expected
          path: /redirect/302/path/received/x
          expect_status: 302
        - name: post_307
          method: POST
          path: /redirect/307/path/received/x
          json: {a: 1}
          expect_status: [307]
        """,
        (
            failed("unexpected", 302, ErrorKind.UNEXPECTED_STATUS, size=15),
            ok("expected", size=15),
            ok("post_307", size=15),
        ),
        keys="max_redirects: 0\n",
    ),
)

OTHER_ORIGIN = Flow(
    "a_redirect_to_another_origin_is_followed",
    """\
    - name: away
      path: /redirect/302/other/received/away
      expect_json: {target: /received/away}
    """,
    (ok("away", redirects=1),),
)
"""The fast engine follows same-origin redirects only (docs/scenarios.md, Redirects)."""

TEMPLATES = (
    Flow(
        "templated_path_query_headers_and_json_arrive_as_rendered",
        """\
        - name: json
          method: PUT
          path: /received/{{ name }}?q={{ q }}&u={{ $user }}
          headers: {X-Note: "{{ note }}", X-Iteration: "{{ $iteration }}"}
          json: {note: "{{ note }}", nested: {list: ["{{ name }}", 5]}, fixed: x}
          expect_json:
            method: PUT
            target: '/received/%C3%A9?q=a%20b&u=0'
            x.x-note: say "hi" \\ now
            json.note: say "hi" \\ now
            json.nested.list.0: é
            json.nested.list.1: 5
            json.fixed: x
            type: application/json
        - name: text
          method: POST
          path: /received/text
          headers: {Content-Type: text/plain}
          body: "name={{ name }}&q={{ q }}"
          expect_json: {body: 'name=é&q=a b', type: text/plain, length: '13'}
        """,
        (ok("json"), ok("text")) * 2,
        iterations=2,
        rows='name,q,note\né,a b,"say ""hi"" \\ now"\n',
    ),
    Flow(
        "basic_and_bearer_auth_arrive_as_rendered",
        """\
        - name: basic
          path: /received/basic
          expect_json: {authorization: Basic dXNlcjA6cHcw}
        - name: token
          path: /received/token/s3cr3t
          capture:
            token: {regex: "/received/token/(\\\\w+)"}
        - name: bearer
          path: /received/bearer
          auth: {bearer: "{{ token }}"}
          expect_json: {authorization: Bearer s3cr3t}
        - name: own_header
          path: /received/own
          headers: {Authorization: Custom x}
          expect_json: {authorization: Custom x}
        - name: bearer_redirected
          path: /redirect/307/path/received/bearer_redirected
          auth: {bearer: "{{ token }}"}
          expect_json: {authorization: Bearer s3cr3t}
        """,
        (
            ok("basic"),
            ok("token"),
            ok("bearer"),
            ok("own_header"),
            ok("bearer_redirected", redirects=1),
        ),
        keys='auth: {basic: ["{{ user }}", "{{ password }}"]}\n',
        rows="user,password\nuser0,pw0\n",
    ),
)

INVALID = (
    Flow(
        # Values captured from the server's answers (echoed request bodies) hold CR LF
        # and NUL: rendered into a header value or the path, the request is not sent.
        "a_header_or_path_rendered_with_cr_lf_or_nul_is_invalid_request_and_not_sent",
        """\
        - name: crlf
          method: POST
          path: /echo
          body: "a\\r\\nX-Injected: yes"
          expect_status: 201
          capture:
            crlf: {regex: "([\\\\s\\\\S]+)"}
        - name: nul
          method: POST
          path: /echo
          body: "a\\0b"
          expect_status: 201
          capture:
            nul: {regex: "([\\\\s\\\\S]+)"}
        - name: header_crlf
          path: /received/h
          headers: {X-Note: "{{ crlf }}"}
        - name: header_nul
          path: /received/h
          headers: {X-Note: "x{{ nul }}"}
        - name: path_crlf
          path: /received/{{ crlf }}
        - name: path_nul
          path: /received/{{ nul }}
        - name: after
          path: /received/after
          expect_json: {x: {}}
        """,
        (
            ok("crlf", size=18),
            ok("nul", size=3),
            *(
                failed(name, 0, ErrorKind.INVALID_REQUEST, size=0)
                for name in ("header_crlf", "header_nul", "path_crlf", "path_nul")
            ),
            ok("after"),
        )
        * 2,
        iterations=2,
    ),
)

FLOWS = (*CAPTURES, *COOKIES, *REDIRECTS, OTHER_ORIGIN, *TEMPLATES, *INVALID)
"""Each flow runs once per engine; `records` holds what they yielded."""


class Run(NamedTuple):
    results: tuple[RequestResult, ...]
    endpoints: dict[str, EndpointStats]


Runs = dict[tuple[str, str], Run]
"""(engine, flow id) -> its run."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    with start_target(script=SERVER_SCRIPT) as server:
        found: Runs = {}
        for flow in FLOWS:
            for engine in ENGINES:
                path = tmp_path_factory.mktemp(f"{flow.id[:40]}-{engine}")
                found[engine, flow.id] = run(flow, engine, server.url, path)
        yield found


def run(flow: Flow, engine: str, url: str, where: Path) -> Run:
    """The flow through perfrun's run path on `engine`; every result it recorded."""
    if flow.rows:
        (where / "users.csv").write_text(flow.rows, encoding="utf-8")
    path = where / "scenario.yaml"
    path.write_text(flow.yaml(url), encoding="utf-8")
    (scenario,) = load_file(path, {})
    stats = RecordingStats.for_load(scenario.load)
    recipe = EngineRecipe(engine, url, scenario.load.timeout, scenario.requests)
    assert not drive(scenario, recipe, stats, signals=())
    return Run(tuple(stats.results), stats.endpoints)


def record(result: RequestResult) -> Record:
    status = None if result.error is None else result.status
    return Record(result.endpoint, status, result.error, result.redirects, result.bytes_received)


def sequence(run: Run) -> list[Record]:
    return [record(result) for result in run.results]


def explain(run: Run) -> list[str]:
    """Why each request failed (shown with an assertion's failure)."""
    return [f"{r.endpoint}: {r.detail}" for r in run.results if r.error is not None]


def figures(endpoint: EndpointStats) -> dict[str, object]:
    return {
        "total": endpoint.total,
        "succeeded": endpoint.succeeded,
        "errors": dict(endpoint.errors),
        "failed_checks": dict(endpoint.failed_checks),
        "redirects": endpoint.redirects,
        "bytes_received": endpoint.bytes_received,
    }


LIMITED = pytest.mark.xfail(
    strict=True, reason="the fast engine follows same-origin redirects only (docs/scenarios.md)"
)


def by_engine() -> list[object]:
    """(engine, flow) for every flow on each engine, a documented limitation marked."""
    return [
        pytest.param(
            engine,
            flow,
            id=f"{engine}-{flow.id}",
            marks=LIMITED if (engine, flow) == ("fast", OTHER_ORIGIN) else (),
        )
        for engine in ENGINES
        for flow in FLOWS
    ]


def compared() -> list[object]:
    """Every flow, the ones where a documented limitation tells the engines apart marked."""
    return [
        pytest.param(flow, id=flow.id, marks=LIMITED if flow is OTHER_ORIGIN else ())
        for flow in FLOWS
    ]


@pytest.mark.parametrize(("engine", "flow"), by_engine())
def test_engine_yields_the_expected_sequence(runs: Runs, engine: str, flow: Flow) -> None:
    found = runs[engine, flow.id]
    actual = sequence(found)
    sized = [
        have if want.bytes_received is not None else have._replace(bytes_received=None)
        for have, want in zip(actual, flow.expected, strict=False)
    ] + actual[len(flow.expected) :]
    assert sized == list(flow.expected), explain(found)


@pytest.mark.parametrize("flow", compared())
def test_engines_yield_the_same_sequence(runs: Runs, flow: Flow) -> None:
    reference, fast = runs["httpx", flow.id], runs["fast", flow.id]
    assert sequence(fast) == sequence(reference), {
        "httpx": explain(reference),
        "fast": explain(fast),
    }


@pytest.mark.parametrize("flow", compared())
def test_engines_record_the_same_figures(runs: Runs, flow: Flow) -> None:
    reference, fast = runs["httpx", flow.id], runs["fast", flow.id]
    assert {name: figures(e) for name, e in fast.endpoints.items()} == {
        name: figures(e) for name, e in reference.endpoints.items()
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sessions_timeout_covers_the_whole_redirect_chain(engine: str) -> None:
    """The awaitable session API (`exchange`) times a chain as the load models do: two
    hops of 0.6 s each under a 1 s timeout fail as a timeout after one redirect."""
    spec = RequestSpec(name="slow_chain", path="/slow_redirect/600/slow_redirect/600/sized/10")

    async def exchange(url: str) -> RequestResult:
        engine_ = EngineRecipe(engine, url, 1.0, (spec,))()
        session = engine_.session()
        try:
            return (await session.exchange(spec, None, True, 10)).result
        finally:
            await session.aclose()
            await engine_.aclose()

    with start_target(script=SERVER_SCRIPT) as server:
        result = asyncio.run(exchange(server.url))
    assert (result.error, result.redirects) == (ErrorKind.TIMEOUT, 1), result.detail
    assert result.latency >= 1.0  # per hop, each 0.6 s hop would have made it
