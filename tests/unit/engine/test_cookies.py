"""The fast engine's per-user cookie jar: the standard library's rules for paths,
expiry and several cookies. Pure: no sockets."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Sequence
from typing import Any

from perfrun.engine.cookies import Jar


def test_cookies_are_sent_where_their_path_allows_and_dropped_when_expired() -> None:
    jar = Jar("http://127.0.0.1:8000")
    jar.extract(
        "/login",
        [
            "session=s1; Path=/; HttpOnly",
            "admin=a1; Path=/admin",
            "theme=dark; Expires=Wed, 09 Jun 2077 10:18:14 GMT; Path=/",
        ],
    )
    assert jar.header("/me") == "session=s1; theme=dark"
    assert jar.header("/admin/users?x=1") == "admin=a1; session=s1; theme=dark"
    jar.extract("/logout", ["session=; Max-Age=0; Path=/"])
    assert jar.header("/me") == "theme=dark"
    assert len(jar) == 2


def test_an_empty_jar_sends_no_cookie_header() -> None:
    jar = Jar("http://127.0.0.1:8000/base/")
    jar.extract("/x", [])
    assert jar.header("/x") is None


def test_a_remembered_header_follows_every_change_of_the_jar(monkeypatch: Any) -> None:
    """The jar's answers are remembered per path (one for all paths while every cookie
    is site-wide); a new cookie, a path-scoped one, a deletion and an expiry each
    change the answer at once."""
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the jar's clock and cookiejar's
    jar = Jar("http://127.0.0.1:8000")
    assert jar.header("/a") is None
    jar.extract("/login", ["session=s1; Path=/"])
    assert [jar.header(p) for p in ("/a", "/b/c", "/a")] == ["session=s1"] * 3
    jar.extract("/login", ["short=x; Max-Age=10; Path=/"])
    assert jar.header("/a") == "session=s1; short=x"
    jar.extract("/docs/x", ["scoped=1; Path=/docs"])
    assert jar.header("/docs/y") == "scoped=1; session=s1; short=x"
    assert jar.header("/a") == "session=s1; short=x"
    now[0] += 11  # `short` has expired
    assert jar.header("/a") == "session=s1"
    assert jar.header("/docs/y") == "scoped=1; session=s1"
    jar.extract("/docs/x", ["scoped=; Max-Age=0; Path=/docs"])
    assert jar.header("/docs/y") == "session=s1"


def test_templated_paths_keep_the_remembered_headers_bounded() -> None:
    jar = Jar("http://127.0.0.1:8000")
    jar.extract("/docs/x", ["scoped=1; Path=/docs"])
    for n in range(1000):
        assert jar.header(f"/docs/{n}") == "scoped=1"
    assert len(jar._headers) <= 64


def test_the_same_cookies_again_leave_the_jar_as_it_is(monkeypatch: Any) -> None:
    """A server may set the same cookie on every response (a load balancer's stickiness
    cookie): the jar is asked once, and the answers are those of asking every time. A
    Max-Age restarts the cookie's clock each time, so such a cookie is always taken."""
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    asked: list[str] = []
    jar = Jar("http://127.0.0.1:8000")
    extract_cookies = jar._jar.extract_cookies

    def counted(response: Any, request: Any) -> None:
        asked.append(request.full_url)
        extract_cookies(response, request)

    monkeypatch.setattr(jar._jar, "extract_cookies", counted)
    sticky = ["lb=7; Expires=Wed, 09 Jun 2077 10:18:14 GMT; Path=/", "s=1; HttpOnly"]
    for _ in range(3):
        jar.extract("/a/b", sticky)
    assert jar.header("/a/c") == "s=1; lb=7"
    assert len(asked) == 1
    jar.extract("/z/y", sticky)  # no Path: `s` is kept for /z too
    assert jar.header("/z/q") == "s=1; lb=7"
    assert jar.header("/a/c") == "s=1; lb=7"
    assert len(asked) == 2
    jar.extract("/z/y", ["lb=8; Path=/"])
    jar.extract("/z/y", sticky)  # the same as two responses ago: the jar changed since
    assert jar.header("/z/q") == "s=1; lb=7"
    assert len(asked) == 4
    for _ in range(3):  # each refreshes the ten seconds
        jar.extract("/", ["short=1; Max-Age=10; Path=/"])
        now[0] += 8
    assert jar.header("/") == "lb=7; short=1"
    assert len(asked) == 7


class _AlwaysExtracting(Jar):
    """The oracle: a jar that asks cookiejar on every response."""

    def _repeatable(self, set_cookies: Sequence[str]) -> bool:
        return False


def _set_cookie(rng: random.Random, now: float) -> str:
    name = rng.choice(["a", "b", "s", "A"])
    value = rng.choice(["1", "2", "", "x=y", '"q; v"'])
    attrs = [f"{name}={value}"]
    if rng.random() < 0.5:
        attrs.append(rng.choice(["Path=/", "path=/a", "Path=/a/b", "Path=/z", "Path="]))
    kind = rng.random()
    if kind < 0.35:
        when = now + rng.choice([-100, 0.5, 5, 20, 60, 3600])
        attrs.append("Expires=" + email.utils.formatdate(when, usegmt=True))
    elif kind < 0.4:
        attrs.append(rng.choice(["Max-Age=10", "max-age=0", "MAX-AGE=-1"]))
    elif kind < 0.42:
        attrs.append("Expires=garbage")
    if rng.random() < 0.1:
        attrs.append(rng.choice(["Domain=127.0.0.1", "Domain=.example.com", "HttpOnly"]))
    return "; ".join(attrs)


def test_skipping_repeated_cookies_sends_what_asking_every_time_sends(
    monkeypatch: Any,
) -> None:
    """A random walk of responses (some the same again), clock steps and requests: the
    jar that skips repeated Set-Cookie values sends the same Cookie headers, in the same
    order, as one that asks cookiejar every time (found by review: a cookie named twice
    in one response, an Expires passing between two identical responses)."""
    now = [1_780_000_000.25]
    monkeypatch.setattr(time, "time", lambda: now[0])
    rng = random.Random(5)
    paths = ["/", "/a", "/a/b", "/a/b/c?q=1", "/z/y", "/A"]
    for _ in range(150):
        now[0] = 1_780_000_000.25
        responses = [
            [_set_cookie(rng, now[0]) for _ in range(rng.choice([1, 1, 2, 3]))]
            for _ in range(rng.choice([1, 2, 4]))
        ]
        for values in responses:
            if rng.random() < 0.2:
                values.append(rng.choice(values))  # a cookie named twice
        jar, oracle = Jar("http://127.0.0.1:8000"), _AlwaysExtracting("http://127.0.0.1:8000")
        for _ in range(40):
            step = rng.random()
            if step < 0.55:
                path, values = rng.choice(paths), rng.choice(responses)
                jar.extract(path, values)
                oracle.extract(path, values)
            elif step < 0.8:
                now[0] += rng.choice([0, 0.3, 1, 4, 6, 15, 30, 100])
            else:
                assert [jar.header(p) for p in paths] == [oracle.header(p) for p in paths]
                assert len(jar) == len(oracle)


def test_a_two_digit_year_is_read_again_on_each_response(monkeypatch: Any) -> None:
    """`Expires=…-77` is 1977 in 2026 (nothing kept) and 2077 in 2027: a cookie that
    was not kept is asked for again, not skipped as a repeat."""
    new_year = 1798761600.0  # 2027-01-01T00:00:00Z
    now = [new_year - 60]
    monkeypatch.setattr(time, "time", lambda: now[0])
    jar = Jar("http://127.0.0.1:8000")
    value = ["sid=1; Expires=Wed, 09-Jun-77 10:18:14 GMT; Path=/"]
    jar.extract("/", value)
    assert jar.header("/") is None
    now[0] = new_year + 60
    jar.extract("/", value)
    assert jar.header("/") == "sid=1"
