"""What the fast engine's connections read at most, and what a request HTTP cannot carry
is (pure: a fake transport, the bytes fed by hand; the same behaviours against a real
server, on both engines: tests/integration/test_conformance.py)."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from perfrun.engine.fast_wire import Connection, FullConnection, WatchingConnection
from perfrun.engine.limits import MAX_HEAD, InvalidRequest, check_headers, check_values, invalid
from perfrun.metrics.result import ErrorKind
from tests.support.transport import FakeTransport


class _Owner:
    def __init__(self) -> None:
        self.ended: list[tuple[ErrorKind | None, int, bytes]] = []

    def on_response(self, conn: Connection) -> None:
        self.ended.append((None, conn.size, conn.response.content()))

    def on_failure(self, kind: ErrorKind, detail: str) -> None:
        self.ended.append((kind, 0, b""))


def exchange(kind: type[Connection], reads: list[bytes], keep_body: int) -> tuple[Any, bool]:
    """Feed `reads` as one response to a request keeping `keep_body` body bytes; how it
    ended (None: not yet), and whether the connection was closed."""
    conn = kind()
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    owner = _Owner()
    conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, True, keep_body)
    for data in reads:
        if transport.closed:
            break
        conn.data_received(data)
    if not transport.closed and not owner.ended:
        conn.connection_lost(None)
    closed = transport.closed
    transport.close()
    return (owner.ended[0] if owner.ended else None), closed


def sized(body: bytes, *headers: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


@pytest.mark.parametrize("kind", [FullConnection, WatchingConnection])
def test_a_kept_body_past_max_body_fails_and_closes_the_connection(kind: type[Connection]) -> None:
    wire = sized(b"x" * 5000)
    ended, closed = exchange(kind, [wire[:2000], wire[2000:]], keep_body=4096)
    assert ended == (ErrorKind.BODY_TOO_LARGE, 0, b"") and closed


@pytest.mark.parametrize("kind", [FullConnection, WatchingConnection])
def test_a_kept_body_of_exactly_max_body_is_kept(kind: type[Connection]) -> None:
    ended, closed = exchange(kind, [sized(b"x" * 4096)], keep_body=4096)
    assert ended == (None, 4096, b"x" * 4096) and not closed


@pytest.mark.parametrize("kind", [FullConnection, WatchingConnection])
def test_a_small_gzip_body_that_decodes_past_max_body_is_body_too_large(
    kind: type[Connection],
) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)  # ~10 KB on the wire
    ended, closed = exchange(kind, [sized(bomb, b"Content-Encoding: gzip")], keep_body=65536)
    assert ended == (ErrorKind.BODY_TOO_LARGE, 0, b"") and closed


def test_a_body_nobody_reads_is_counted_whatever_its_size() -> None:
    body = b"y" * 1_000_000
    wire = sized(body)
    reads = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]
    ended, closed = exchange(Connection, reads, keep_body=0)
    assert ended == (None, 1_000_000, b"") and not closed


@pytest.mark.parametrize("kind", [Connection, FullConnection, WatchingConnection])
def test_a_head_past_max_head_over_several_reads_is_protocol(kind: type[Connection]) -> None:
    line = b"X-Filler: " + b"f" * 990 + b"\r\n"
    reads = [b"HTTP/1.1 200 OK\r\n"] + [line * 8] * (MAX_HEAD // len(line * 8) + 2)
    ended, closed = exchange(kind, reads, keep_body=0)
    assert ended == (ErrorKind.PROTOCOL, 0, b"") and closed


@pytest.mark.parametrize("kind", [Connection, FullConnection, WatchingConnection])
def test_a_large_head_under_max_head_over_many_reads_is_read(kind: type[Connection]) -> None:
    wire = sized(b"ok", b"X-Large: " + b"l" * 60_000)
    reads = [wire[i : i + 1000] for i in range(0, len(wire), 1000)]
    ended, closed = exchange(kind, reads, keep_body=0)
    assert ended == (None, 2, b"") and not closed


def test_a_body_until_close_after_a_head_over_several_reads_is_a_success() -> None:
    """Its framing (none: the body ends with the connection) is read from every read of
    the head, not only the last."""
    wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Pad: " + b"p" * 3000 + b"\r\n\r\nbody"
    reads = [wire[i : i + 700] for i in range(0, len(wire), 700)]
    ended, _ = exchange(Connection, reads, keep_body=0)
    assert ended == (None, 4, b"")


def test_a_reset_inside_a_body_until_close_is_a_reset() -> None:
    conn = Connection()
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    owner = _Owner()
    conn.request(b"GET / HTTP/1.1\r\n\r\n", owner, float("inf"), False, False, 0)
    conn.data_received(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart")
    conn.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    transport.close()
    assert owner.ended == [(ErrorKind.RESET, 0, b"")]


@pytest.mark.parametrize(
    ("path", "headers", "why"),
    [
        ("/ok?q=1", {"X-A": "b\tc é"}, None),  # HTAB and obs-text are allowed
        ("/a\r\nb", {}, "path holds '\\r'"),
        ("/a\x00b", {}, "path holds '\\x00'"),
        ("/a\tb", {}, "path holds '\\t'"),
        ("/", {"X-A": "a\r\nX-B: c"}, "header X-A holds '\\r'"),
        ("/", {"X-A": "a\nb"}, "header X-A holds '\\n'"),
        ("/", {"X-A": "a\x00b"}, "header X-A holds '\\x00'"),
        ("/", {"X-A": "a\x7f"}, "header X-A holds '\\x7f'"),
        ("/", {"X A": "v"}, "header name 'X A' is not a token"),
        ("/", {"X-A:": "v"}, "header name 'X-A:' is not a token"),
    ],
)
def test_why_a_request_cannot_be_sent(path: str, headers: dict[str, str], why: str | None) -> None:
    found = invalid(path, headers.items())
    assert (found is None) if why is None else (found is not None and why in found), found


def test_a_rendered_header_value_is_checked_by_value_only() -> None:
    check_values("step", [("X A", "fine")])  # the names are the scenario's, checked once
    with pytest.raises(InvalidRequest, match="step: header X-A rendered with '\\\\r'"):
        check_values("step", [("X-A", "a\rb")])
    with pytest.raises(InvalidRequest):
        check_headers([("X A", "fine")])
