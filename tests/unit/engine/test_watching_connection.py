"""What the fast engine keeps of a response for cookies and redirects without parsing
its headers in Python: every Set-Cookie and the Location of the final response,
however the bytes arrive (pure: a fake transport, the bytes fed by hand)."""

from __future__ import annotations

import gzip

import pytest

from perfrun.engine import fast_wire
from perfrun.engine.fast_wire import (
    Connection,
    RedirectWatchingConnection,
    WatchingConnection,
    WatchingFullConnection,
    _final_head,
)
from perfrun.engine.limits import MAX_BODY, MAX_HEAD
from perfrun.metrics.result import ErrorKind
from tests.support.transport import FakeTransport


class _Owner:
    def __init__(self) -> None:
        self.seen: list[tuple[int, list[str], dict[str, str]]] = []

    def on_response(self, conn: Connection) -> None:
        response = conn.response
        self.seen.append((conn.status, list(response.set_cookies), dict(response.headers)))

    def on_failure(self, kind: ErrorKind, detail: str) -> None:
        raise AssertionError(f"{kind}: {detail}")


def split_everywhere(conn: Connection, owner: _Owner, wires: list[bytes], keep_body: bool) -> None:
    """One request per way to cut each response in two, on one connection."""
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    try:
        for wire in wires:
            for cut in range(1, len(wire)):
                request = b"GET / HTTP/1.1\r\n\r\n"
                keep = MAX_BODY if keep_body else 0  # the most body bytes kept
                conn.request(request, owner, float("inf"), False, False, keep)
                conn.data_received(wire[:cut])
                conn.data_received(wire[cut:])
    finally:
        transport.close()


LOGIN = (
    b"HTTP/1.1 303 See Other\r\nServer: x\r\nSET-COOKIE: a=1; Path=/\r\n"
    b"Content-Length: 24\r\nset-Cookie: b=2\r\nLocation: /me\r\n\r\n"
    b"\r\nSet-Cookie: not=header"
)
PLAIN = b"HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\n\r\nLocation: /in/the/body/only"
HINTED = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\nSet-Cookie: hint=1\r\n\r\n" + LOGIN
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: c=3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
)
_LONG_BODY = b"\r\nSet-Cookie: in=body\r\nLocation: /body\r\n\r\n" * 40  # 1,720 bytes
LONG_LOGIN = (
    b"HTTP/1.1 303 See Other\r\nSet-Cookie: a=1; Path=/\r\nLocation: /me\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_LONG_BODY) + _LONG_BODY
)
"""Past `_SHORT`: searched in its head only (cut late, its first read is long)."""
LONG_PLAIN = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(_LONG_BODY) + _LONG_BODY
LONG_HINTED = b"HTTP/1.1 100 Continue\r\n\r\n" + HINTED[: -len(LOGIN)] + LONG_LOGIN
KEPT = [
    (LOGIN, 303, ["a=1; Path=/", "b=2"], {"location": "/me"}),
    (LONG_LOGIN, 303, ["a=1; Path=/"], {"location": "/me"}),
    (LONG_PLAIN, 200, [], {}),
    (LONG_HINTED, 303, ["a=1; Path=/"], {"location": "/me"}),
    (PLAIN, 200, [], {}),
    (HINTED, 303, ["a=1; Path=/", "b=2"], {"location": "/me"}),
    (CHUNKED, 200, ["c=3"], {}),
]


@pytest.mark.parametrize("kind", [WatchingConnection, WatchingFullConnection])
@pytest.mark.parametrize(("wire", "status", "cookies", "headers"), KEPT)
def test_set_cookie_and_location_are_kept_however_the_bytes_arrive(
    kind: type[Connection], wire: bytes, status: int, cookies: list[str],
    headers: dict[str, str],
) -> None:  # fmt: skip
    """Split at every byte, one response after another on one connection: the same
    headers kept, those of a 103's head or in a body never."""
    owner = _Owner()
    split_everywhere(kind(), owner, [wire], keep_body=False)
    assert owner.seen == [(status, cookies, headers)] * (len(wire) - 1)


@pytest.mark.parametrize(("wire", "status", "cookies", "headers"), KEPT)
def test_requests_on_their_own_read_only_a_redirects_head(
    wire: bytes, status: int, cookies: list[str], headers: dict[str, str]
) -> None:
    """The open model's connections: a redirect's Set-Cookie and Location are kept as
    on any watching connection; another response's head is not read (its cookies would
    go nowhere: the request has no user)."""
    owner = _Owner()
    split_everywhere(RedirectWatchingConnection(), owner, [wire], keep_body=False)
    if not 300 <= status < 400:
        cookies, headers = [], {}
    assert owner.seen == [(status, cookies, headers)] * (len(wire) - 1)


@pytest.mark.parametrize(
    ("data", "span"),
    [
        (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody\r\n\r\n", (0, 23)),
        (b"HTTP/1.1 103 Early\r\nL: x\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", (28, 45)),
        (b"HTTP/1.1 100 Go\r\n\r\nHTTP/1.1 101 Up\r\n\r\nHTTP/1.1 204 N\r\n\r\nx", (38, 54)),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", (0, 23)),  # no blank line: all of it
        (b"HTTP/1.1 100 Go\r\n\r\nHTTP/1.1 200", (19, 31)),
        (b"HTTP/1.1 1000 X\r\n\r\nbody", (0, 17)),  # 1000 is no interim status
    ],
)
def test_the_final_head_is_found_past_interim_heads(data: bytes, span: tuple[int, int]) -> None:
    assert _final_head(data) == span
    assert _final_head(bytearray(data)) == span


class _Spans:
    """A stand-in for the watched headers' pattern: records where it was asked to look."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []

    def search(self, data: bytes, start: int = 0, end: int = 2**62) -> None:
        self.spans.append((start, min(end, len(data))))


def test_a_long_body_is_not_searched_for_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search for Set-Cookie and Location stops at the head's end: a regex tries
    every line, and a body of 64 kB took it ~50 µs per response."""
    spans = _Spans()
    monkeypatch.setattr(fast_wire, "_WATCHED", spans)
    transport = FakeTransport()
    conn = WatchingConnection()
    conn.connection_made(transport)  # type: ignore[arg-type]
    try:
        owner = _Owner()
        for wire in (LONG_PLAIN, LONG_HINTED, LOGIN):
            conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, 0)
            conn.data_received(wire)
    finally:
        transport.close()
    head_end = LONG_PLAIN.index(b"\r\n\r\n") + 2
    hinted = LONG_HINTED.index(b"HTTP/1.1 303")
    assert spans.spans == [
        (0, head_end),
        (hinted, hinted + LONG_LOGIN.index(b"\r\n\r\n") + 2),
        (0, len(LOGIN)),  # a short read is searched whole
    ]


def test_a_head_the_same_as_the_last_plain_one_is_not_searched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A response whose one read is the head of the last one searched that held no
    header watched, to the byte, and as many body bytes, is not searched again (nor
    parsed: `Connection._known`); one whose head differs in any byte is, and what it
    holds is kept. A response whose body is kept is always searched (its
    Content-Encoding)."""
    ok = b"HTTP/1.1 200 OK\r\nDate: Tue, 01 Dec 2026 06:00:00 GMT\r\nContent-Length: 2\r\n\r\n"
    later = ok.replace(b":00 GMT", b":01 GMT")
    cookie = ok.replace(b"Date:", b"Set-Cookie: s=1\r\nDate:")
    reads = [  # (bytes, keep_body, searched, cookies kept)
        (ok + b"{}", False, True, []),
        (ok + b"[]", False, False, []),  # another body: the head is the same
        (later + b"{}", False, True, []),
        (later + b"{}", False, False, []),
        (cookie + b"{}", False, True, ["s=1"]),
        (later + b"{}", True, True, []),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + later + b"{}", False, True, []),
        (later + b"{}", False, False, []),
    ]
    real = fast_wire._WATCHED
    searched: list[bool] = []

    class Counting:
        def search(self, data: bytes, *span: int) -> object:
            searched[-1] = True
            return real.search(data, *span)

    monkeypatch.setattr(fast_wire, "_WATCHED", Counting())
    monkeypatch.setattr(fast_wire, "_WATCHED_AND_ENCODING", Counting())
    transport = FakeTransport()
    conn = WatchingConnection()
    conn.connection_made(transport)  # type: ignore[arg-type]
    owner = _Owner()
    try:
        for wire, keep_body, _, _ in reads:
            searched.append(False)
            conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False,
                         MAX_BODY if keep_body else 0)  # fmt: skip
            conn.data_received(wire)
    finally:
        transport.close()
    assert searched == [read[2] for read in reads]
    assert [cookies for _, cookies, _ in owner.seen] == [read[3] for read in reads]


class _Bodies(_Owner):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def on_response(self, conn: Connection) -> None:
        self.bodies.append(conn.response.content())


def test_a_kept_body_is_decoded_when_its_head_says_gzip() -> None:
    """A capture reads the body as sent, or decoded when Content-Encoding (read from the
    head's bytes, no header parsed in Python) says gzip, whatever the split."""
    document = b'{"token": "t1"}'
    packed = gzip.compress(document)
    gzipped = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)
        + packed
    )
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(document) + document
    for kind in (WatchingConnection, RedirectWatchingConnection):
        owner = _Bodies()
        split_everywhere(kind(), owner, [gzipped, plain], keep_body=True)
        assert owner.bodies == [document] * (len(gzipped) + len(plain) - 2)


class _Failures(_Owner):
    def __init__(self) -> None:
        super().__init__()
        self.failures: list[tuple[ErrorKind, str]] = []

    def on_failure(self, kind: ErrorKind, detail: str) -> None:
        self.failures.append((kind, detail))


def test_a_head_that_never_ends_fails_as_protocol_with_bounded_memory() -> None:
    """A server that sends header lines forever: the request fails once the head passes
    MAX_HEAD bytes, and the connection keeps none of them."""
    conn = WatchingConnection()
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    owner = _Failures()
    try:
        conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, False)
        conn.data_received(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Filler: " + b"a" * 54 + b"\r\n"
        for _ in range(2 * MAX_HEAD // len(line)):
            if owner.failures:
                break
            conn.data_received(line)
    finally:
        transport.close()
    assert owner.failures == [(ErrorKind.PROTOCOL, f"response head over {MAX_HEAD} bytes")]
    assert owner.seen == []
    # The head's bytes live where Connection keeps a head that spans reads: emptied.
    assert len(conn._spanned) == 0
    assert len(conn._last) < 100  # the last read alone (one header line)
