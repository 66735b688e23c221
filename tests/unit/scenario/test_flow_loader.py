"""`flow:` scenarios load into steps with compiled templates and captures, their data
read relative to the file; every variable a step names must come from the data, an
earlier capture or a built-in, else the file and line are named. Files in tmp_path."""

from __future__ import annotations

import random
import re
import textwrap
from pathlib import Path

import pytest

from perfrun.errors import ScenarioError
from perfrun.scenario.data import Order
from perfrun.scenario.loader import load_file
from perfrun.scenario.templates import Context

SHOP = """\
scenarios:
  shop:
    type: load
    severity: high
    base_url: http://127.0.0.1:8000
    data:
      file: data/users.csv
      order: unique
    flow:
      - name: login
        once: true
        method: POST
        path: /login
        json: {user: "{{ user }}", password: "{{ password }}"}
        capture:
          token: {json: token}
      - name: list
        path: /items
        headers: {Authorization: "Bearer {{ token }}"}
        capture:
          item: {json: "items[0].id"}
      - name: item
        path: /items/{{ item }}?n={{ $iteration }}
        headers: {Authorization: "Bearer {{ token }}"}
        think_time: 100ms
    load: {users: 2, iterations: 5}
"""
USERS = "user,password\nann,p1\nbob,p2\n"


def write(directory: Path, text: str, data: str | None = USERS) -> Path:
    path = directory / "a.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    if data is not None:
        (directory / "data").mkdir(exist_ok=True)
        (directory / "data" / "users.csv").write_text(data, encoding="utf-8")
    return path


def test_a_flow_loads_with_its_data_templates_and_captures(tmp_path: Path) -> None:
    (shop,) = load_file(write(tmp_path, SHOP), {})
    assert shop.flow
    assert shop.data is not None and shop.data.order is Order.UNIQUE
    assert [dict(row) for row in shop.data.rows] == [
        {"user": "ann", "password": "p1"},
        {"user": "bob", "password": "p2"},
    ]
    login, listing, item = shop.requests
    assert (login.once, listing.once, item.once) == (True, False, False)
    assert [c.name for c in login.captures] == ["token"]
    assert item.think_time == pytest.approx(0.1) and login.think_time is None
    assert shop.load.iterations == 5 and shop.load.requests_per_user is None
    context = Context(user=1, iteration=4, rng=random.Random(0))
    variables = {"user": "bob", "password": 'p"2', "token": "T", "item": "9"}
    assert login.templated is not None and login.templated.body is not None
    assert login.templated.body.render(variables, context) == '{"user": "bob", "password": "p\\"2"}'
    assert item.templated is not None
    assert item.templated.path.render(variables, context) == "/items/9?n=4"
    assert dict(item.templated.headers)["Authorization"].render(variables, context) == "Bearer T"


def test_a_request_mix_without_templates_stays_static(tmp_path: Path) -> None:
    text = SHOP.split("    data:")[0] + textwrap.indent(
        "requests:\n  - {name: health, path: /health}\nload: {users: 1, requests_per_user: 1}\n",
        "    ",
    )
    (scenario,) = load_file(write(tmp_path, text, data=None), {})
    assert not scenario.flow and scenario.data is None
    assert scenario.requests[0].templated is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("/items/{{ item }}", "/items/{{ itme }}", "item: {{ itme }} names no data column"),
        (
            '"Bearer {{ token }}"}\n        capture',
            '"Bearer {{ tok }}"}\n        capture',
            "list: {{ tok }} names no data column",
        ),
        ("{{ $iteration }}", "{{ $iter }}", "unknown built-in $iter"),
        ("{json: token}", "{json: 'token['}", "does not parse"),
        ("{json: token}", "{json: token, header: X}", "takes one of json, header, regex, status"),
        ("{json: token}", "{cookie: x}", "unknown key 'cookie'"),
        ("once: true", "once: yes please", "must be true or false"),
        ("iterations: 5", "requests_per_user: 5", "is not for a flow"),
        ("{users: 2, iterations: 5}", "{users: 3, iterations: 5}", "2 rows for 3 users"),
        ("file: data/users.csv", "file: data/nope.csv", "nope.csv: no such file"),
        ("order: unique", "order: shuffled", "order"),
    ],
)
def test_flow_errors_name_the_file_line_and_what(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert SHOP.count(old) == 1, old
    with pytest.raises(ScenarioError) as excinfo:
        load_file(write(tmp_path, SHOP.replace(old, new)), {})
    assert excinfo.value.exit_code == 2
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(str(tmp_path / "a.yaml") + ":")


def test_a_step_may_not_use_a_capture_of_a_later_step(tmp_path: Path) -> None:
    text = SHOP.replace("path: /items\n", "path: /items/{{ item }}\n")
    with pytest.raises(ScenarioError, match=re.escape("list: {{ item }} names no data")):
        load_file(write(tmp_path, text), {})


MIX = "requests:\n  - {name: a, path: '/x/{{ user }}/{{ $uuid }}'}\n"


@pytest.mark.parametrize(
    ("lines", "load", "message"),
    [
        (MIX, "{rate: 5, duration: 1s}", "templates are rendered for users"),
        (MIX, "{stages: [{duration: 1s, rate: 2}]}", "templates are rendered for users"),
        (
            "data: {file: data/users.csv}\nrequests:\n  - {name: a, path: /x}\n",
            "{rate: 5, duration: 1s}",
            "data rows belong to users",
        ),
        (
            "data: {file: data/users.csv}\nrequests:\n  - {name: a, path: '/{{ nobody }}'}\n",
            "{users: 1, requests_per_user: 1}",
            "a: {{ nobody }} names no data column or $built-in",
        ),
    ],
)
def test_a_request_mix_takes_templates_and_data_only_with_users(
    tmp_path: Path, lines: str, load: str, message: str
) -> None:
    """A mix is a one-step flow with weights: its templates and data rows belong to
    users, so a rate or stages load refuses them, and variables must be defined."""
    text = SHOP.split("    data:")[0] + textwrap.indent(lines + f"load: {load}\n", "    ")
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_file(write(tmp_path, text), {})


def test_a_request_mix_with_users_takes_templates_and_data(tmp_path: Path) -> None:
    text = SHOP.split("    data:")[0] + textwrap.indent(
        "data: {file: data/users.csv}\n" + MIX + "load: {users: 2, requests_per_user: 1}\n",
        "    ",
    )
    (scenario,) = load_file(write(tmp_path, text), {})
    assert not scenario.flow and scenario.data is not None
    (request,) = scenario.requests
    assert request.templated is not None and request.templated.variables == {"user"}


def test_auth_becomes_an_authorization_header(tmp_path: Path) -> None:
    text = SHOP.replace(
        "    load: {users: 2, iterations: 5}",
        "    auth: {basic: [ann, 'p:1']}\n    load: {users: 2, iterations: 5}",
    ).replace(
        '        headers: {Authorization: "Bearer {{ token }}"}\n        capture',
        "        auth: {basic: ['{{ user }}', '{{ password }}']}\n        capture",
    )
    (shop,) = load_file(write(tmp_path, text), {})
    login, listing, _ = shop.requests
    assert login.headers["Authorization"] == "Basic YW5uOnA6MQ=="  # base64 of ann:p:1
    assert listing.templated is not None
    rendered = dict(listing.templated.headers)["Authorization"].render(
        {"user": "bob", "password": "p2", "token": "T"}, Context(0, 0, random.Random(0))
    )
    assert rendered == "Basic Ym9iOnAy"  # base64 of bob:p2: its own auth, not the scenario's
    item = shop.requests[2]
    assert item.templated is not None  # its own Authorization header beats the scenario's
    assert dict(item.templated.headers)["Authorization"].text == "Bearer {{ token }}"


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("{basic: [only]}", "must be [user, password]"),
        ("{bearer: t, basic: [a, b]}", "takes one of basic"),
        ("{digest: x}", "unknown key 'digest'"),
        ("{bearer: '{{ nope }}'}", "{{ nope }} names no data column"),
        ("{bearer: x}\n        headers: {Authorization: y}", "either auth or an Authorization"),
    ],
)
def test_bad_auth_is_refused_where_it_is_written(tmp_path: Path, auth: str, message: str) -> None:
    text = SHOP.replace("        path: /login\n", f"        path: /login\n        auth: {auth}\n")
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_file(write(tmp_path, text), {})


def test_the_example_in_perfrun_help_loads(tmp_path: Path) -> None:
    from perfrun.cli.command import EPILOG

    lines = EPILOG.split("  scenarios:\n", 1)[1].split("Cookies are kept", 1)[0]
    text = textwrap.dedent("  scenarios:\n" + lines)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "users.csv").write_text(
        "user,password\n" + "".join(f"u{i},p{i}\n" for i in range(20))
    )
    (tmp_path / "a.yaml").write_text(text)
    (shop,) = load_file(tmp_path / "a.yaml", {})
    assert shop.flow and [step.name for step in shop.requests] == ["login", "items", "item"]


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ("{stages: [{duration: 1s, rate: 5}]}", "a flow's stages set users"),
        ("{stages: [{duration: 1s, users: 2}], iterations: 3}", "not for a staged flow"),
        ("{rate: 5, duration: 1s}", "is not for a flow"),
    ],
)
def test_a_flow_takes_users_stages_only(tmp_path: Path, load: str, message: str) -> None:
    text = SHOP.replace("    load: {users: 2, iterations: 5}", f"    load: {load}")
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_file(write(tmp_path, text), {})


def test_a_flow_with_users_stages_loads(tmp_path: Path) -> None:
    text = SHOP.replace(
        "    load: {users: 2, iterations: 5}",
        "    load: {stages: [{duration: 2s, users: 2}, {duration: 1s, users: 1}]}",
    )
    (scenario,) = load_file(write(tmp_path, text), {})
    assert scenario.flow and scenario.load.users == 2 and scenario.load.duration == 3
