"""Flows run end to end against tests/servers/accounts.py on both engines: every data
row logs in exactly once under `order: unique`, every later step sends the token and
item the user captured, and the counts are exact. A capture that finds nothing fails
its request as capture_failed and skips the rest of the iteration."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfrun.metrics.stats import ScenarioStats
from tests.servers.launch import TargetProcess, start_target
from tests.support.perfrun_cli import RunPerfrun, only_scenario
from tests.support.runs import run_scenario_file

ACCOUNTS = Path(__file__).parents[1] / "servers" / "accounts.py"
USERS, ITERATIONS = 6, 4

LOGIN = """\
      - name: login
        once: true
        method: POST
        path: /login
        json: {user: "{{ user }}", password: "{{ password }}"}
        capture:
          token: {json: token}
"""
"""The flows' first step: each user logs in once with its data row, keeps its token."""

FLOW = """\
scenarios:
  shop:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}
    flow:
{login}      - name: list
        path: /items
        headers: {{Authorization: "Bearer {{{{ token }}}}"}}
        capture:
          item: {{json: "{item_path}"}}
      - name: item
        path: /items/{{{{ item }}}}
        headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    load: {{users: {users}, iterations: {iterations}}}
"""


@pytest.fixture(scope="module")
def accounts() -> Iterator[TargetProcess]:
    """One accounts server for the tests that read only what perfrun measured: its
    tokens and sessions are new at each login (a serial number), so no run can use
    another's. A test that reads the server's own counts (logins, denials) at its end
    has a fresh one, `fresh_accounts`."""
    with start_target("--users", str(USERS), script=ACCOUNTS) as target:
        yield target


@pytest.fixture
def fresh_accounts() -> Iterator[TargetProcess]:
    with start_target("--users", str(USERS), script=ACCOUNTS) as target:
        yield target


def run_yaml(
    tmp_path: Path, template: str, url: str, engine: str, rows: str | None = None,
    **fields: object,
) -> ScenarioStats:  # fmt: skip
    """Write users.csv (`rows`, else user0/pw0 …) and the scenario `template` filled in
    with the URL, USERS, ITERATIONS and `fields`; run it on `engine`; its stats."""
    rows = rows or "".join(f"user{i},pw{i}\n" for i in range(USERS))
    (tmp_path / "users.csv").write_text("user,password\n" + rows, encoding="utf-8")
    text = template.format(url=url, users=USERS, iterations=ITERATIONS, login=LOGIN, **fields)
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return run_scenario_file(path, engine)


def run_flow(
    tmp_path: Path, url: str, engine: str, item_path: str = "items[1].id"
) -> ScenarioStats:
    return run_yaml(tmp_path, FLOW, url, engine, item_path=item_path)


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_each_user_logs_in_once_and_uses_its_own_token_and_items(
    tmp_path: Path, fresh_accounts: TargetProcess, engine: str
) -> None:
    stats = run_flow(tmp_path, fresh_accounts.url, engine)

    endpoints = stats.endpoints
    assert {name: e.total for name, e in endpoints.items()} == {
        "login": USERS,
        "list": USERS * ITERATIONS,
        "item": USERS * ITERATIONS,
    }
    assert stats.overall.failed == 0, dict(stats.overall.errors)
    fresh_accounts.stop()
    log = fresh_accounts.stderr_text()
    logins = log.split("LOGINS ")[1].splitlines()[0].split()
    assert logins == [f"user{i}=1" for i in range(USERS)]
    assert "DENIED 0" in log


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_a_capture_that_finds_nothing_fails_and_skips_the_rest_of_the_iteration(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    stats = run_flow(tmp_path, accounts.url, engine, item_path="items[5].id")

    endpoints = stats.endpoints
    assert endpoints["login"].total == endpoints["login"].succeeded == USERS
    listing = endpoints["list"]
    assert listing.total == listing.errors["capture_failed"] == USERS * ITERATIONS
    assert "item" not in endpoints
    assert "found nothing" in stats.error_samples["capture_failed"]


COOKIE_FLOW = """\
scenarios:
  session:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}
    cookies: {cookies}
    flow:
{login}      - name: me
        path: /me
        capture:
          who: {{json: user}}
      - name: own_item
        path: /items/{{{{ who }}}}-a
        headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    load: {{users: {users}, iterations: {iterations}}}
"""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize("cookies", [True, False])
def test_each_user_keeps_its_own_cookies_unless_told_not_to(
    tmp_path: Path, accounts: TargetProcess, engine: str, cookies: bool
) -> None:
    """The session cookie set at login names the user on /me; the item of that user
    is fetched with the same user's token: a cookie from another user would be a 403."""
    stats = run_yaml(tmp_path, COOKIE_FLOW, accounts.url, engine, cookies=str(cookies).lower())

    endpoints = stats.endpoints
    me = endpoints["me"]
    assert me.total == USERS * ITERATIONS
    if cookies:
        assert stats.overall.failed == 0, dict(stats.overall.errors)
        assert endpoints["own_item"].succeeded == USERS * ITERATIONS
    else:
        assert me.errors == {"http_4xx": USERS * ITERATIONS}
        assert "own_item" not in endpoints


REDIRECT_FLOW = """\
scenarios:
  redirects:
    type: load
    severity: high
    base_url: {url}
    max_redirects: {max_redirects}
    data: {{file: users.csv, order: unique}}
    flow:
      - name: login
        once: true
        method: POST
        path: /login?next=/me
        json: {{user: "{{{{ user }}}}", password: "{{{{ password }}}}"}}
        capture:
          who: {{json: user}}
      - name: chain
        path: /redirect/3
    load: {{users: {users}, iterations: {iterations}}}
"""


def redirect_stats(tmp_path: Path, url: str, engine: str, max_redirects: int) -> ScenarioStats:
    return run_yaml(tmp_path, REDIRECT_FLOW, url, engine, max_redirects=max_redirects)


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_redirects_are_followed_with_cookies_and_counted(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    """A login answered with 303 and a cookie lands on /me as a GET that sends the
    cookie (the capture reads /me's body); /redirect/3 takes three hops, one result."""
    stats = redirect_stats(tmp_path, accounts.url, engine, max_redirects=10)

    endpoints = stats.endpoints
    assert stats.overall.failed == 0, (dict(stats.overall.errors), stats.error_samples)
    assert (endpoints["login"].succeeded, endpoints["login"].redirects) == (USERS, USERS)
    chain = endpoints["chain"]
    assert chain.succeeded == USERS * ITERATIONS
    assert chain.redirects == 3 * USERS * ITERATIONS


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_a_chain_longer_than_max_redirects_fails(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    stats = redirect_stats(tmp_path, accounts.url, engine, max_redirects=2)

    chain = stats.endpoints["chain"]
    assert chain.failed == USERS * ITERATIONS
    assert "redirects" in stats.error_samples["other"].lower()


def test_a_flow_split_over_two_workers_keeps_each_users_row(
    tmp_path: Path, fresh_accounts: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    """--workers 2: the scenario (templates, captures, data) reaches both processes, and
    user i takes row i whichever worker runs it: each account logs in exactly once."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    rows = "".join(f"user{i},pw{i}\n" for i in range(USERS))
    (scenarios / "users.csv").write_text("user,password\n" + rows)
    text = FLOW.format(url=fresh_accounts.url, login=LOGIN, item_path="items[1].id", users=USERS,
                       iterations=ITERATIONS)  # fmt: skip

    run = run_perfrun(textwrap.dedent(text), "--workers", "2", "--engine", "fast")

    assert run.exit_code == 0, run.output
    endpoints = only_scenario(run.report)["endpoints"]
    totals = {name: e["requests"]["total"] for name, e in endpoints.items()}
    assert totals == {"item": USERS * ITERATIONS, "list": USERS * ITERATIONS, "login": USERS}
    fresh_accounts.stop()
    logins = fresh_accounts.stderr_text().split("LOGINS ")[1].splitlines()[0].split()
    assert logins == [f"user{i}=1" for i in range(USERS)]


AUTH_FLOW = """\
scenarios:
  auth:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}
    auth: {{basic: ["{{{{ user }}}}", "{{{{ password }}}}"]}}
    flow:
      - name: basic
        path: /basic
        capture:
          who: {{json: user}}
      - name: login
        once: true
        method: POST
        path: /login
        json: {{user: "{{{{ who }}}}", password: "{{{{ password }}}}"}}
        capture:
          token: {{json: token}}
      - name: items
        path: /items
        auth: {{bearer: "{{{{ token }}}}"}}
    load: {{users: {users}, iterations: {iterations}}}
"""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_basic_auth_from_the_scenario_and_bearer_on_a_step(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    stats = run_yaml(tmp_path, AUTH_FLOW, accounts.url, engine)

    assert stats.overall.failed == 0, (dict(stats.overall.errors), stats.error_samples)
    assert {n: e.succeeded for n, e in stats.endpoints.items()} == {
        "basic": USERS * ITERATIONS,
        "login": USERS,
        "items": USERS * ITERATIONS,
    }


ONE_STEP = """\
scenarios:
  one:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: sequential}}
    flow:
      - name: basic
        path: "/basic?i={{{{ $iteration }}}}"
        auth: {{basic: ["{{{{ user }}}}", "{{{{ password }}}}"]}}
        capture:
          who: {{json: {field}}}
    load: {{users: {users}, iterations: {iterations}}}
"""
"""One templated step with a capture: each iteration is one request, sent from the
callback of the one before (the fast engine's quick path), with the next data row."""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize(("field", "kind"), [("user", None), ("nobody", "capture_failed")])
def test_a_one_step_flow_renders_each_iterations_row_and_captures(
    tmp_path: Path, fresh_accounts: TargetProcess, engine: str, field: str, kind: str | None
) -> None:
    """Every iteration sends its row's credentials; a capture that misses fails only
    its own iteration's request."""
    stats = run_yaml(tmp_path, ONE_STEP, fresh_accounts.url, engine, field=field)

    basic = stats.endpoints["basic"]
    assert basic.total == USERS * ITERATIONS
    if kind is None:
        assert basic.succeeded == basic.total, stats.error_samples
    else:
        assert basic.errors == {kind: basic.total}
    fresh_accounts.stop()
    assert "DENIED 0" in fresh_accounts.stderr_text()  # every row's credentials as rendered


EDGE_FLOW = """\
scenarios:
  edges:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}
    flow:
      - name: post_307
        method: POST
        path: /r307
        json: {{a: 1}}
        expect_json: {{method: POST, body: '{{"a": 1}}'}}
      - name: broken
        path: "/items/{{{{ user }}}}"
        headers: {{X-Note: "{{{{ password }}}}"}}
    load: {{users: {users}, iterations: 1}}
"""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_a_307_resends_a_static_body_and_an_unsendable_value_fails_unsent(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    """A 307 keeps the method and the (static) body; a data value that HTTP/1.1 cannot
    carry in a header fails its request, and the run goes on."""
    rows = "".join(f"user{i},pw{i}\n" for i in range(USERS - 1)) + 'user9,"p\u2603"\n'
    stats = run_yaml(tmp_path, EDGE_FLOW, accounts.url, engine, rows=rows)

    endpoints = stats.endpoints
    assert endpoints["post_307"].succeeded == USERS, stats.error_samples
    assert endpoints["post_307"].redirects == USERS
    # No token is sent, so the server says 401; the row it cannot be sent for: "other".
    assert dict(endpoints["broken"].errors) == {"http_4xx": USERS - 1, "other": 1}


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_without_cookies_none_is_kept_even_inside_a_redirect_chain(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    """The 303 after login sets the session cookie on its way to /me: with cookies off,
    /me must not see it, on either engine (httpx follows the chain by itself)."""
    text = REDIRECT_FLOW.replace("    max_redirects:", "    cookies: false\n    max_redirects:")
    stats = run_yaml(tmp_path, text, accounts.url, engine, max_redirects=10)

    login = stats.endpoints["login"]
    assert login.errors == {"http_4xx": USERS * ITERATIONS}  # /me: 401, retried each time


ONLY_ONCE = """\
scenarios:
  shop:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}
    flow:
{login}    load: {{users: {users}, duration: 60s}}
"""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_users_whose_steps_are_all_once_leave_when_they_are_done(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    """Nothing is left to send after the once steps: each user logs in once and leaves,
    long before the duration (neither spinning through empty iterations nor hanging)."""
    began = time.monotonic()
    stats = run_yaml(tmp_path, ONLY_ONCE, accounts.url, engine)
    assert time.monotonic() - began < 30  # the duration is 60 s
    login = stats.endpoints["login"]
    assert login.total == login.succeeded == USERS


MIX = """\
scenarios:
  shop:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}{options}
    requests:
      - name: login
        method: POST
        path: /login?next=/me
        json: {{user: "{{{{ user }}}}", password: "{{{{ password }}}}"}}{more}
    load: {{users: {users}, requests_per_user: {iterations}}}
"""
"""A `requests:` mix with users: templates from each user's data row, a login answered
with a 303 that sets the session cookie (followed, with the cookie, to /me)."""

CHAIN = """
      - name: chain
        weight: 2
        path: /redirect/2"""
"""A second request for the mix: two redirects, then 200."""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_a_request_mix_renders_each_users_row_keeps_cookies_and_follows_redirects(
    tmp_path: Path, fresh_accounts: TargetProcess, engine: str
) -> None:
    stats = run_yaml(tmp_path, MIX, fresh_accounts.url, engine, options="", more="")

    login = stats.endpoints["login"]
    assert login.total == login.succeeded == USERS * ITERATIONS
    assert stats.overall.redirects == USERS * ITERATIONS  # 303 -> /me
    fresh_accounts.stop()
    log = fresh_accounts.stderr_text()
    logins = log.split("LOGINS ")[1].splitlines()[0].split()
    assert logins == [f"user{i}={ITERATIONS}" for i in range(USERS)]  # each its own row
    assert "DENIED 0" in log  # /me always had the cookie set on the 303 before it


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_a_weighted_mix_draws_per_user_and_counts_every_redirect(
    tmp_path: Path, accounts: TargetProcess, engine: str
) -> None:
    stats = run_yaml(tmp_path, MIX, accounts.url, engine, options="", more=CHAIN)

    assert stats.overall.total == stats.overall.succeeded == USERS * ITERATIONS
    totals = {name: e.total for name, e in stats.endpoints.items()}
    assert sum(totals.values()) == USERS * ITERATIONS
    assert stats.overall.redirects == totals.get("login", 0) + 2 * totals.get("chain", 0)


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize(
    ("options", "kind"),
    [("\n    cookies: false", "http_4xx"), ("\n    max_redirects: 0", "unexpected_status")],
)
def test_a_request_mix_without_cookies_or_redirects(
    tmp_path: Path, accounts: TargetProcess, engine: str, options: str, kind: str
) -> None:
    """Without cookies /me after the login's 303 is a 401; without redirects the 303
    itself is judged."""
    stats = run_yaml(tmp_path, MIX, accounts.url, engine, options=options, more="")

    login = stats.endpoints["login"]
    assert login.total == USERS * ITERATIONS
    assert login.errors == {kind: USERS * ITERATIONS}


STAGED = """\
scenarios:
  shop:
    type: load
    severity: high
    base_url: {url}
    data: {{file: users.csv, order: unique}}
{body}
    load: {{stages: [{{duration: 1s, users: 3}}, {{duration: 1s, users: 3}}], think_time: 50ms}}
"""
STAGED_FLOW = (
    LOGIN
    + """\
      - name: me
        path: /me
"""
)


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize("shape", ["flow", "mix"])
def test_staged_users_keep_their_rows_and_cookies(
    tmp_path: Path, fresh_accounts: TargetProcess, engine: str, shape: str
) -> None:
    """Users stages (3 users at most, of 6 rows): users 0-2 only run, each with its own
    row; a flow logs in once per user and reads /me with its session cookie; a mix
    logs in through a 303 that sets the cookie it follows with."""
    if shape == "flow":
        body = "    flow:\n" + STAGED_FLOW
    else:
        body = (
            "    requests:\n      - name: login\n        method: POST\n"
            "        path: /login?next=/me\n"
            '        json: {user: "{{ user }}", password: "{{ password }}"}'
        )
    stats = run_yaml(tmp_path, STAGED, fresh_accounts.url, engine, body=body)

    assert stats.overall.total > 0
    assert stats.overall.failed == 0, dict(stats.overall.errors)
    fresh_accounts.stop()
    log = fresh_accounts.stderr_text()
    logins = dict(x.split("=") for x in log.split("LOGINS ")[1].splitlines()[0].split())
    assert {user for user, n in logins.items() if int(n)} <= {"user0", "user1", "user2"}
    if shape == "flow":  # once per user (a user does not leave while 3 are wanted)
        assert stats.endpoints["login"].total == sum(int(n) for n in logins.values())
        assert all(int(n) <= 1 for n in logins.values())
    assert "DENIED 0" in log


RATE_MIX = """\
scenarios:
  arrivals:
    type: load
    severity: high
    base_url: {url}{options}
    requests:
      - name: login
        method: POST
        path: /login?next=/me
        json: {{user: user0, password: pw0}}
      - name: me
        path: /me
      - name: chain
        path: /redirect/2
    load: {{rate: 60, duration: 1s}}
"""
"""A rate load (requests on their own, no users): a login whose 303 sets the session
cookie it leads to /me with, /me alone, and a chain of two redirects."""


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize(
    ("options", "login_error", "chain_error"),
    [
        ("", None, None),
        ("\n    cookies: false", "http_4xx", None),
        ("\n    max_redirects: 0", "unexpected_status", "unexpected_status"),
        ("\n    max_redirects: 1", None, "other"),
    ],
)
def test_a_rate_loads_requests_follow_redirects_with_the_chains_cookies(
    tmp_path: Path, accounts: TargetProcess, engine: str, options: str,
    login_error: str | None, chain_error: str | None,
) -> None:  # fmt: skip
    """Each request follows its redirects (counted, one result per chain); a cookie set
    along a chain goes with its next requests, and no further: /me on its own never
    has a session."""
    stats = run_yaml(tmp_path, RATE_MIX, accounts.url, engine, options=options)

    schedule = stats.schedule
    assert stats.overall.total == schedule.sent == schedule.due - schedule.dropped
    login, me, chain = (stats.endpoints[name] for name in ("login", "me", "chain"))
    assert me.errors == {"http_4xx": me.total}
    for endpoint, error in ((login, login_error), (chain, chain_error)):
        assert endpoint.total > 0
        expected = {} if error is None else {error: endpoint.total}
        assert dict(endpoint.errors) == expected, stats.error_samples
    most = int(options.rpartition("max_redirects: ")[2] or 10) if "max" in options else 10
    assert stats.overall.redirects == min(most, 1) * login.total + min(most, 2) * chain.total
    if chain_error == "other":
        assert "more than 1 redirects" in stats.error_samples["other"]
