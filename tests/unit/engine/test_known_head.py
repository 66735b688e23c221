"""A response whose head is the last one llhttp parsed, byte for byte, and whose read
holds that head and its Content-Length of body, is taken without llhttp: what llhttp
said of the head it would say again. These tests hold the same outcome (status, body
size, keep-alive, what a watching connection keeps) for every response, and count the
parses, so a head that must be read again (a cookie, a redirect, a body to keep, a
chunked body, an interim head, a split read) is seen to go through llhttp each time.
Pure: a fake transport, the bytes fed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from perfrun.engine.fast_wire import (
    RELEARN_EVERY,
    UNUSED_LEARNS,
    Connection,
    FullConnection,
    RedirectWatchingConnection,
    WatchingConnection,
    WatchingFullConnection,
)
from perfrun.engine.limits import MAX_BODY
from perfrun.metrics.result import ErrorKind
from tests.support.transport import FakeTransport

HEAD = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 01 Dec 2026 06:00:00 GMT\r\n"
NGINX = HEAD + b"Content-Length: 11\r\n\r\n" + b'{"ok":true}'
NEXT_SECOND = NGINX.replace(b":00 GMT", b":01 GMT")
CLOSE = HEAD + b"Connection: close\r\nContent-Length: 2\r\n\r\nok"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
HINTED = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + NGINX
COOKIE = HEAD + b"Set-Cookie: s=1\r\nContent-Length: 2\r\n\r\nok"
REDIRECT = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"
EMPTY = b"HTTP/1.1 204 No Content\r\nServer: nginx\r\n\r\n"


class _Owner:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, bool, list[str], str | None, bytes]] = []

    def on_response(self, conn: Connection) -> None:
        response = conn.response
        self.seen.append(
            (conn.status, conn.size, conn.reusable, list(response.set_cookies),
             response.headers.get("location"), response.content())
        )  # fmt: skip

    def on_failure(self, kind: ErrorKind, detail: str) -> None:
        raise AssertionError(f"{kind}: {detail}")


class _Counting:
    """The connection's httptools parser, counting the reads it is fed."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.fed = 0

    def feed_data(self, data: bytes) -> None:
        self.fed += 1
        self.parser.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parser, name)


def exchange(
    kind: type[Connection], reads: list[list[bytes]], keep_body: list[bool] | None = None
) -> tuple[list[tuple[int, int, bool, list[str], str | None, bytes]], int]:
    """One request per entry of `reads` on one connection, its response fed in those
    reads: what the owner saw of each, and how many reads llhttp parsed."""
    conn, owner, transport = kind(), _Owner(), FakeTransport()
    counting = _Counting(conn._parser)
    conn._parser = counting
    conn.connection_made(transport)  # type: ignore[arg-type]
    try:
        for index, parts in enumerate(reads):
            keep = MAX_BODY if keep_body and keep_body[index] else 0
            conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, keep)
            for part in parts:
                conn.data_received(part)
    finally:
        transport.close()
    return owner.seen, counting.fed


def _ok(status: int = 200, size: int = 11, reusable: bool = True) -> tuple[Any, ...]:
    return (status, size, reusable, [], None, b"")


LEAN = [Connection, WatchingConnection, RedirectWatchingConnection]


@pytest.mark.parametrize("kind", LEAN)
@pytest.mark.parametrize(
    ("reads", "seen", "parsed"),
    [
        ([[NGINX]] * 3, [_ok()] * 3, 1),
        ([[NGINX], [NEXT_SECOND], [NEXT_SECOND], [NGINX]], [_ok()] * 4, 3),
        # Split: the second's bytes come in two reads, so llhttp reads both.
        ([[NGINX], [NGINX[:50], NGINX[50:]], [NGINX]], [_ok()] * 3, 3),
        ([[NGINX], [NGINX[:-1], NGINX[-1:]]], [_ok()] * 2, 3),
        ([[CHUNKED]] * 3, [_ok(size=2)] * 3, 3),
        ([[HINTED]] * 2 + [[NGINX]] * 2, [_ok()] * 4, 3),
        ([[EMPTY]] * 3, [_ok(status=204, size=0)] * 3, 1),
        ([[NGINX], [CLOSE]], [_ok(), _ok(size=2, reusable=False)], 2),
    ],
    ids=["same", "date", "split", "last-byte-late", "chunked", "interim", "no-body", "close"],
)
def test_a_known_head_skips_llhttp_and_changes_nothing(
    kind: type[Connection], reads: list[list[bytes]], seen: list[Any], parsed: int
) -> None:
    assert exchange(kind, reads) == (seen, parsed)


def test_a_response_like_the_known_one_but_longer_is_parsed() -> None:
    """The known head and more bytes than its body (the start of a response nobody asked
    for): llhttp reads them, as it would have."""
    conn, owner, transport = Connection(), _Owner(), FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    failures: list[ErrorKind] = []
    owner.on_failure = lambda kind, detail: failures.append(kind)  # type: ignore[method-assign]
    try:
        for data in (NGINX, NGINX + b"HTTP/1.1 200 OK\r\n"):
            conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, 0)
            conn.data_received(data)
    finally:
        transport.close()
    assert owner.seen == [_ok(), _ok()] and failures == []
    assert conn._known_size == len(NGINX)  # the second was not learned: more than its head


@pytest.mark.parametrize("kind", [WatchingConnection, RedirectWatchingConnection])
def test_a_head_with_a_cookie_or_a_location_is_read_every_time(kind: type[Connection]) -> None:
    """A watched head is never known: each is read. The last NGINX is known still (the
    heads between were not learned) on a WatchingConnection; a RedirectWatchingConnection
    reads no 2xx head, so it learned the COOKIE head (and skipped its second)."""
    seen, parsed = exchange(kind, [[NGINX], [COOKIE], [COOKIE], [REDIRECT], [REDIRECT], [NGINX]])
    cookies: list[str] = ["s=1"] if kind is WatchingConnection else []
    cookie = (200, 2, True, cookies, None, b"")
    redirect = (302, 0, True, list[str](), "/next", b"")
    assert seen == [_ok(), cookie, cookie, redirect, redirect, _ok()]
    assert parsed == 5


def test_a_body_to_keep_is_read_even_when_its_head_is_known() -> None:
    seen, parsed = exchange(WatchingConnection, [[NGINX]] * 3, keep_body=[False, True, False])
    assert seen == [_ok(), (200, 11, True, [], None, b'{"ok":true}'), _ok()]
    assert parsed == 2


@pytest.mark.parametrize("kind", [FullConnection, WatchingFullConnection])
def test_a_connection_that_keeps_headers_parses_every_response(kind: type[Connection]) -> None:
    seen, parsed = exchange(kind, [[NGINX]] * 3)
    assert seen == [_ok()] * 3 and parsed == 3


def test_a_head_request_is_parsed_though_its_head_is_known() -> None:
    """A HEAD's response has the head of a GET's and no body: never taken as known."""
    conn, owner, transport = Connection(), _Owner(), FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    try:
        conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, 0)
        conn.data_received(NGINX)
        conn.request(b"HEAD / HTTP/1.1\r\n\r\n", owner, float("inf"), True, False, 0)
        conn.data_received(NGINX[: -len(b'{"ok":true}')])
        conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, 0)
        conn.data_received(NGINX)
    finally:
        transport.close()
    assert owner.seen == [_ok(), _ok(size=0), _ok()]


@pytest.mark.parametrize("kind", LEAN)
def test_a_server_that_never_repeats_a_head_is_learned_from_rarely(
    kind: type[Connection],
) -> None:
    """Heads stamped with a request id are learned in vain: after UNUSED_LEARNS such,
    one response in RELEARN_EVERY is learned. A head that starts to repeat is known
    again at the next of those, and skipped from then on."""
    unique = 100
    assert unique > UNUSED_LEARNS
    stamped = [[NGINX.replace(b"nginx", b"n%04d" % i)] for i in range(unique)]
    seen, parsed = exchange(kind, stamped + [[NGINX]] * 100)
    assert seen == [_ok()] * (unique + 100)
    learned_at = -(-(unique + 1) // RELEARN_EVERY) * RELEARN_EVERY - unique  # 28th NGINX
    assert parsed == unique + learned_at
