"""The fast engine's per-user cookie jar: the standard library's rules for paths,
expiry and several cookies. Pure: no sockets."""

from __future__ import annotations

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
