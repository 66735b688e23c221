"""The fast engine's per-user cookie jar: the standard library's rules for paths,
expiry and several cookies. Pure: no sockets."""

from __future__ import annotations

import time
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
