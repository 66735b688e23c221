"""--http-debug's pure core: what is hidden, how an exchange is written, which are shown."""

from __future__ import annotations

import gzip
import os
import pickle

import pytest

from perfrun.engine.debug import (
    BODY_LIMIT,
    HttpDebug,
    Message,
    Tracer,
    decoded,
    format_exchange,
    redact,
    redact_target,
)
from perfrun.engine.factory import EngineRecipe
from perfrun.scenario.model import LoadSpec, RequestSpec
from tests.support.scripted import scripted_scenario


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", "Bearer abc.def", "Bearer ***"),
        ("authorization", "Basic dXNlcjpwYXNz", "Basic ***"),
        ("Authorization", "rawkey", "***"),
        ("Proxy-Authorization", "Digest x=1, y=2", "Digest ***"),
        ("Cookie", "sid=abc; theme=dark", "sid=***; theme=***"),
        ("Cookie", "lonely", "lonely=***"),
        ("Set-Cookie", "sid=abc; Path=/; HttpOnly", "sid=***; Path=/; HttpOnly"),
        ("Set-Cookie", "sid=abc", "sid=***"),
        ("X-Api-Key", "k1", "***"),
        ("api_key", "k2", "***"),
        ("X-CSRF-Token", "t", "***"),
        ("X-Client-Secret", "s", "***"),
        ("X-Password", "p", "***"),
        ("Content-Type", "application/json", "application/json"),
        ("Host", "127.0.0.1:8080", "127.0.0.1:8080"),
        ("X-Tokenless", "x", "***"),  # a name that says token: hidden, to be safe
    ],
)
def test_credentials_and_cookie_values_are_hidden_names_kept(
    name: str, value: str, shown: str
) -> None:
    assert redact(name, value) == shown


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /a?api_key=1&b=2 HTTP/1.1", "GET /a?api_key=***&b=2 HTTP/1.1"),
        ("GET /a?b=2&access_token=xyz HTTP/1.1", "GET /a?b=2&access_token=*** HTTP/1.1"),
        ("GET /a?apikey=1#frag HTTP/1.1", "GET /a?apikey=***#frag HTTP/1.1"),
        ("GET /a?page=2 HTTP/1.1", "GET /a?page=2 HTTP/1.1"),
        ("GET /token/1 HTTP/1.1", "GET /token/1 HTTP/1.1"),  # a path, not a parameter
    ],
)
def test_credential_query_parameters_are_hidden(line: str, shown: str) -> None:
    assert redact_target(line) == shown


REQUEST = Message("POST /login HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t0k\r\n", b"pw=1", 4)
RESPONSE = Message("HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3c; Path=/\r\nContent-Length: 2", b"ok", 2)


def test_an_exchange_is_one_block_with_bodies_only_when_asked() -> None:
    assert format_exchange("#1", REQUEST, RESPONSE, "", bodies=False) == (
        "#1\n"
        "> POST /login HTTP/1.1\n"
        "> Host: h\n"
        "> Authorization: Bearer ***\n"
        "> [4 body bytes]\n"
        "< HTTP/1.1 200 OK\n"
        "< Set-Cookie: sid=***; Path=/\n"
        "< Content-Length: 2\n"
        "< [2 body bytes]\n\n"
    )
    with_bodies = format_exchange("#1", REQUEST, RESPONSE, "", bodies=True)
    assert "\n>\n> pw=1\n" in with_bodies
    assert "\n<\n< ok\n\n" in with_bodies.split("< Content-Length: 2")[1]


def test_a_failed_exchange_says_its_error_and_what_came() -> None:
    assert format_exchange("#2", None, None, "connect_refused: no", bodies=True) == (
        "#2\n> (not sent)\n! connect_refused: no\n\n"
    )
    text = format_exchange("#3", REQUEST, None, "timeout: late", bodies=False)
    assert text.endswith("> [4 body bytes]\n! timeout: late\n\n")


OK = "HTTP/1.1 200 OK"


@pytest.mark.parametrize(
    ("message", "note"),
    [
        (Message(OK, b"x" * 3000, 3000), "< [first 2048 of 3000 body bytes shown]"),
        (Message(OK, b"x" * 100, 3000), "< [first 100 of 3000 body bytes shown]"),
        (Message(OK, b"x" * 90, 40, "gzip"), "< [90 bytes shown, decoded from 40 gzip bytes]"),
        (Message(OK, b"x" * 10, 10), None),
    ],
)  # fmt: skip
def test_a_body_is_cut_at_the_limit_and_says_so(message: Message, note: str | None) -> None:
    text = format_exchange("#1", None, message, "", bodies=True)
    shown = [line for line in text.splitlines() if line.startswith("< x")]
    assert len("".join(shown)) - 2 * len(shown) == min(len(message.body), BODY_LIMIT)
    notes = [line for line in text.splitlines() if line.startswith("< [")]
    assert notes == ([note] if note else [])


def test_a_gzip_body_cut_short_decodes_its_start() -> None:
    body = b"0123456789" * 1000
    start = gzip.compress(body)[:300]
    assert body.startswith(decoded(start, "gzip") or b"-")
    assert decoded(b"not gzip", "gzip") is None
    assert decoded(body, "br") is None
    assert len(decoded(gzip.compress(body), " GZIP ") or b"") == BODY_LIMIT


def test_the_tracer_shows_the_first_n_then_says_once_that_the_rest_are_not() -> None:
    written: list[str] = []
    tracer = Tracer(HttpDebug(2, scenario="s"), written.append)

    first, second, third = tracer.begin(), tracer.begin(), tracer.begin()
    assert (first, second, third) == (1, 2, None)
    assert written == []  # the shown ones are still under way: the note waits for them
    tracer.show(2, "e", None, None, "timeout: x")
    tracer.show(1, "e", None, None, "")
    assert tracer.begin() is None
    assert [w.splitlines()[0] for w in written] == [
        "http-debug #2 s/e",
        "http-debug #1 s/e",
        "http-debug: further exchanges of s are not shown (the first 2 in this process were)",
    ]


def test_no_note_when_no_more_exchanges_began() -> None:
    written: list[str] = []
    tracer = Tracer(HttpDebug(1, scenario="s"), written.append)
    number = tracer.begin()
    assert number == 1
    tracer.show(number, "e", None, None, "")
    assert len(written) == 1


def test_the_recipe_carries_debug_into_workers_only_when_asked() -> None:
    scenario = scripted_scenario(LoadSpec(users=1), RequestSpec(name="a"))
    off = EngineRecipe.for_scenario("fast", "http://127.0.0.1:9", scenario)
    on = EngineRecipe.for_scenario("fast", "http://127.0.0.1:9", scenario, http_debug=5,
                                   http_debug_bodies=True)  # fmt: skip
    assert off.debug is None
    assert on.debug == HttpDebug(5, True, "scripted", os.getpid())
    assert pickle.loads(pickle.dumps(on)) == on


def test_a_worker_marks_its_exchanges_with_its_process_id() -> None:
    written: list[str] = []
    here = Tracer(HttpDebug(1, scenario="s", parent=os.getpid()), written.append)
    worker = Tracer(HttpDebug(1, scenario="s", parent=os.getpid() + 1), written.append)
    here.show(1, "e", None, None, "")
    worker.show(1, "e", None, None, "")
    assert [w.splitlines()[0] for w in written] == [
        "http-debug #1 s/e",
        f"http-debug #1 s/e [pid {os.getpid()}]",
    ]


def test_an_endpoint_named_with_its_query_hides_secrets_in_the_title() -> None:
    """A request's name is `GET /path?query` by default: the title must hide what the
    request line hides."""
    written: list[str] = []
    tracer = Tracer(HttpDebug(1, scenario="s"), written.append)
    tracer.show(tracer.begin() or 0, "GET /x?access_token=t0k&page=2", None, None, "")
    assert written[0].splitlines()[0] == "http-debug #1 s/GET /x?access_token=***&page=2"
