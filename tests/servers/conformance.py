"""A raw HTTP/1.1 server for the engine conformance tests; a script, not a perfrun import.

    python tests/servers/conformance.py [--port 0]

Prints `LISTENING http://127.0.0.1:PORT` once bound, serves until SIGTERM / SIGINT.
Every response is written by hand, so each wire shape is exactly what the test asks for:
sized, chunked and read-until-close bodies, interim responses, trailers, truncated
bodies, broken framing, and connections closed at chosen moments. Paths answer any
method; a HEAD gets the GET's status line and headers without the body. Connections
stay open (keep-alive) except where an endpoint says otherwise, and every response
carries `X-Nth: n`, the request's position on its connection (1 = a new connection),
so a test can see whether a client reused a connection or opened a new one.

    /status/{code}          that status, body {"status": code}; none for 1xx, 204, 304
    /sized/{n}              n bytes with Content-Length
    /same/{n}               the same, without X-Nth: every response the same to the byte
    /chunked/{n}            n bytes chunked: chunks of 1000 and the remainder
    /chunked-trailer/{n}    the same, with an `X-Trailer: yes` trailer
    /empty                  200, Content-Length: 0
    /headers                X-Test: a, X-Multi twice, JSON content type and body
    /echo                   201 with the request body, as application/json
    /target                 the request target and Host as JSON (how a path was encoded)
    /request-header/{name}  {"value": the request's header `name`, or null}
    /close                  Connection: close, then closes
    /until-close[/{n}]      HTTP/1.1 body without length or chunking, ended by closing
    /idle-close             a keep-alive response sent with the FIN (a keep-alive timeout)
    /drop                   reads the request, closes without answering
    /garbage                `NOT HTTP` then closes
    /slow/{ms}              answers after ms milliseconds
    /slow-body/{ms}         the head of a 10-byte response at once, its body ms later
    /truncated/{n}          Content-Length n, sends n // 2 bytes, closes
    /truncated-chunked/{n}  chunked, sends the first chunk, closes
    /truncated-close/{n}    the same as /truncated with Connection: close
    /truncated-close-chunked/{n}  the same as /truncated-chunked with Connection: close
    /early-hints/{n}        a 103 Early Hints, 10 ms later the 200 of /sized/{n}
    /early-hints-until-close/{n}  a 103 and, in the same write, a 200 whose n-byte body
                            has no length and ends with the connection
    /bad-length             Content-Length: abc
    /length-and-chunked/{n} Content-Length n and Transfer-Encoding: chunked, chunked body
    /gzip/{n}               the /sized/{n} body gzip-encoded, whatever the client accepts
    /http10/{n}             an HTTP/1.0 response with Content-Length, then closes
    /http10-until-close/{n} an HTTP/1.0 response without length: n bytes, then closes
    /received[/...]         200 with what arrived, as JSON: method, target, the body's
                            text (and `json`, parsed, when it is JSON), Content-Length,
                            Content-Type, Cookie, Authorization and every X- header; its
                            method again in `X-Method` (a HEAD has no body to read)
    /redirect/{code}/{how}/{rest}  that 3xx to /{rest} (with the query), its Location
                            written `how`: `path` (/rest), `absolute` (http://HOST/rest,
                            HOST from the request), `relative` (../../rest) or `other`
                            (http://127.1:PORT/rest: this server, another origin)
    /loop/{n}               302 to /loop/{n+1}: a chain that never ends
    /set-cookies?c=V&c=V    200 with one `Set-Cookie: V` per `c` (a 302 to `to` instead
                            when the query has `to`), body {"set": count}
    /fail-until/{k}/{i}     503 while i < k, then 200 {"i": i}: a step that fails in a
                            user's first k iterations, given {{ $iteration }} as i

Hostile servers (what a client must survive in bounded memory):

    /huge/{n}               n bytes with Content-Length, written 64 KiB at a time (100 MB
                            and more without the server holding them)
    /endless-chunked        a chunked body that never ends (until the client goes)
    /endless-header         a status line, then header lines that never end
    /long-header/{n}        one header line of n bytes, then an empty 200
    /bad-status             a malformed status line (`HTTP/1.1 2x0 OK`)
    /bad-header             a header line without a colon
    /close-after-headers    a head with Content-Length: 100, then closes
    /reset-mid-body         half of a 100 000-byte body, then a TCP reset (RST)
    /trickle/{ms}           /sized/10's response, one byte every ms milliseconds
    /stall                  the head and half of a 10-byte body, then nothing
    /gzip-zeros/{n}         n zero bytes gzip-encoded (100 MB are ~100 KB on the wire)
    /spec/{b64}             the response a JSON spec (base64url) describes: see `spec`;
                            for property-based tests, one server for every example

Bodies are `payload(n)`: `000000000,000000001,...` cut to n bytes, so every 10-byte
record is unique and a test can look for text that straddles a chunk boundary.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

MAX_HEADER_BYTES = 64 * 1024
CHUNK = 1000
_REASONS = {
    103: "Early Hints",
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def payload(n: int) -> bytes:
    """n bytes of numbered 10-byte records: `000000000,000000001,...`."""
    records = n // 10 + 1
    return b"".join(b"%09d," % i for i in range(records))[:n]


@dataclass
class Request:
    method: str
    target: str
    path: str
    headers: dict[str, str]
    """Lower-case names; a repeated header keeps its last value."""
    body: bytes
    nth: int
    """This request's position on its connection, from 1."""

    @property
    def head(self) -> bool:
        return self.method == "HEAD"


class _BadRequest(Exception):
    pass


class _Close(Exception):
    """The handler is done with the connection: close it now."""


Writer = asyncio.StreamWriter
Handler = Callable[[Request, Writer, list[str]], Awaitable[bool]]
"""(request, writer, path arguments) -> keep the connection open."""


def head(status: int, headers: Sequence[tuple[str, str]], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def sized(
    request: Request,
    status: int,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
    *,
    close: bool = False,
) -> bytes:
    """A complete response with Content-Length (none for a HEAD's body)."""
    fields = [*headers, ("Content-Length", str(len(body))), ("X-Nth", str(request.nth))]
    if close:
        fields.append(("Connection", "close"))
    return head(status, fields) + (b"" if request.head else body)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def status(request: Request, writer: Writer, args: list[str]) -> bool:
    code = int(args[0])
    if code < 200 or code in (204, 304):
        writer.write(head(code, [("X-Nth", str(request.nth))]))
        return True
    extra = [("Location", "/sized/1")] if 300 <= code < 400 else []
    body = json.dumps({"status": code}).encode()
    writer.write(sized(request, code, body, [("Content-Type", "application/json"), *extra]))
    return True


async def sized_body(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(sized(request, 200, payload(int(args[0])), [("Content-Type", "text/plain")]))
    return True


async def same_body(request: Request, writer: Writer, args: list[str]) -> bool:
    """/sized/{n}'s response with no X-Nth: a head that repeats, as most servers' do."""
    body = payload(int(args[0]))
    fields = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    writer.write(head(200, fields) + (b"" if request.head else body))  # in one write
    return True


async def chunked(request: Request, writer: Writer, args: list[str]) -> bool:
    await _chunked(request, writer, int(args[0]), trailer=False)
    return True


async def chunked_trailer(request: Request, writer: Writer, args: list[str]) -> bool:
    await _chunked(request, writer, int(args[0]), trailer=True)
    return True


async def _chunked(request: Request, writer: Writer, n: int, *, trailer: bool) -> None:
    fields = [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]
    if trailer:
        fields.append(("Trailer", "X-Trailer"))
    writer.write(head(200, [*fields, ("X-Nth", str(request.nth))]))
    if request.head:
        return
    body = payload(n)
    for start in range(0, n, CHUNK):
        # One write and drain per chunk, so the client tends to get them in separate reads.
        writer.write(chunk(body[start : start + CHUNK]))
        await writer.drain()
    writer.write(b"0\r\nX-Trailer: yes\r\n\r\n" if trailer else b"0\r\n\r\n")


async def empty(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(sized(request, 200, b""))
    return True


async def headers(request: Request, writer: Writer, args: list[str]) -> bool:
    body = json.dumps({"headers": "ok", "items": [{"id": 1}, {"id": 2}]}).encode()
    fields = [
        ("Content-Type", "application/json"),
        ("X-Test", "a"),
        ("X-Multi", "one"),
        ("X-Multi", "two"),
    ]
    writer.write(sized(request, 200, body, fields))
    return True


async def echo(request: Request, writer: Writer, args: list[str]) -> bool:
    fields = [("Content-Type", "application/json"), ("X-Method", request.method)]
    writer.write(sized(request, 201, request.body, fields))
    return True


async def target(request: Request, writer: Writer, args: list[str]) -> bool:
    body = json.dumps({"target": request.target, "host": request.headers.get("host")}).encode()
    writer.write(sized(request, 200, body, [("Content-Type", "application/json")]))
    return True


async def request_header(request: Request, writer: Writer, args: list[str]) -> bool:
    body = json.dumps({"value": request.headers.get(args[0].lower())}).encode()
    writer.write(sized(request, 200, body, [("Content-Type", "application/json")]))
    return True


async def received(request: Request, writer: Writer, args: list[str]) -> bool:
    text = request.body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    seen = {
        "method": request.method,
        "target": request.target,
        "body": text,
        "json": parsed,
        "length": request.headers.get("content-length"),
        "type": request.headers.get("content-type"),
        "cookie": request.headers.get("cookie"),
        "authorization": request.headers.get("authorization"),
        "x": {name: value for name, value in request.headers.items() if name.startswith("x-")},
    }
    body = json.dumps(seen, sort_keys=True).encode()
    fields = [("Content-Type", "application/json"), ("X-Method", request.method)]
    writer.write(sized(request, 200, body, fields))
    return True


async def redirect(request: Request, writer: Writer, args: list[str]) -> bool:
    code, how, rest = int(args[0]), args[1], "/".join(args[2:])
    query = request.target.partition("?")[2]
    where = rest + (f"?{query}" if query else "")
    if how == "absolute":
        location = f"http://{request.headers['host']}/{where}"
    elif how == "other":
        location = f"http://127.1:{request.headers['host'].rpartition(':')[2]}/{where}"
    elif how == "relative":
        # The directory of /redirect/{code}/relative/a/b is len(args) segments deep.
        location = "../" * len(args) + where
    else:
        location = f"/{where}"
    body = json.dumps({"status": code}).encode()
    fields = [("Content-Type", "application/json"), ("Location", location)]
    writer.write(sized(request, code, body, fields))
    return True


async def loop(request: Request, writer: Writer, args: list[str]) -> bool:
    location = f"/loop/{int(args[0]) + 1}"
    writer.write(sized(request, 302, b"{}", [("Location", location)]))
    return True


async def set_cookies(request: Request, writer: Writer, args: list[str]) -> bool:
    query = parse_qs(request.target.partition("?")[2], keep_blank_values=True)
    values = query.get("c", [])
    fields = [("Set-Cookie", value) for value in values]
    body = json.dumps({"set": len(values)}).encode()
    if "to" in query:
        writer.write(sized(request, 302, body, [*fields, ("Location", query["to"][0])]))
    else:
        writer.write(sized(request, 200, body, [("Content-Type", "application/json"), *fields]))
    return True


async def fail_until(request: Request, writer: Writer, args: list[str]) -> bool:
    k, i = int(args[0]), int(args[1])
    if i < k:
        return await status(request, writer, ["503"])
    body = json.dumps({"i": i}).encode()
    writer.write(sized(request, 200, body, [("Content-Type", "application/json")]))
    return True


async def close(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(sized(request, 200, b"closing", [("Content-Type", "text/plain")], close=True))
    return False


async def until_close(request: Request, writer: Writer, args: list[str]) -> bool:
    n = int(args[0]) if args else 1500
    writer.write(head(200, [("Content-Type", "text/plain"), ("X-Nth", str(request.nth))]))
    if not request.head:
        body = payload(n)
        writer.write(body[: n // 2])
        await writer.drain()
        writer.write(body[n // 2 :])
    return False


async def idle_close(request: Request, writer: Writer, args: list[str]) -> bool:
    # Says nothing about closing: the client learns it only from the FIN that follows.
    # Corked, the response waits for the close and leaves with the FIN, so a client can
    # never send its next request before the FIN is there, however the two processes
    # are scheduled.
    if hasattr(socket, "TCP_CORK"):
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    writer.write(sized(request, 200, b"bye", [("Content-Type", "text/plain")]))
    return False


async def drop(request: Request, writer: Writer, args: list[str]) -> bool:
    return False


async def slow_body(request: Request, writer: Writer, args: list[str]) -> bool:
    ms = int(args[0])
    body = payload(10)
    response = sized(request, 200, body)
    writer.write(response[: len(response) - len(body)])
    await writer.drain()
    await asyncio.sleep(ms / 1000)
    writer.write(body)
    return True


async def garbage(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(b"NOT HTTP\r\n\r\n")
    return False


async def slow_redirect(request: Request, writer: Writer, args: list[str]) -> bool:
    """/slow_redirect/{ms}/{rest}: waits, then a 302 to /{rest}: a chain slower than
    any of its hops."""
    await asyncio.sleep(int(args[0]) / 1000)
    return await redirect(request, writer, ["302", "path", *args[1:]])


async def slow(request: Request, writer: Writer, args: list[str]) -> bool:
    ms = int(args[0])
    await asyncio.sleep(ms / 1000)
    body = json.dumps({"slept_ms": ms}).encode()
    writer.write(sized(request, 200, body, [("Content-Type", "application/json")]))
    return True


async def truncated(request: Request, writer: Writer, args: list[str]) -> bool:
    n = int(args[0])
    writer.write(sized(request, 200, payload(n), [("Content-Type", "text/plain")])[: -(n - n // 2)])
    return False


async def truncated_chunked(request: Request, writer: Writer, args: list[str]) -> bool:
    fields = [("Transfer-Encoding", "chunked"), ("X-Nth", str(request.nth))]
    writer.write(head(200, fields) + chunk(payload(int(args[0]))[:CHUNK]))
    return False


async def truncated_close(request: Request, writer: Writer, args: list[str]) -> bool:
    n = int(args[0])
    response = sized(request, 200, payload(n), [("Content-Type", "text/plain")], close=True)
    writer.write(response[: -(n - n // 2)])
    return False


async def truncated_close_chunked(request: Request, writer: Writer, args: list[str]) -> bool:
    fields = [
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
        ("X-Nth", str(request.nth)),
    ]
    writer.write(head(200, fields) + chunk(payload(int(args[0]))[:CHUNK]))
    return False


async def early_hints_until_close(request: Request, writer: Writer, args: list[str]) -> bool:
    hints = head(103, [("Link", "</style.css>; rel=preload; as=style")])
    final = head(200, [("Content-Type", "text/plain"), ("X-Nth", str(request.nth))])
    writer.write(hints + final + (b"" if request.head else payload(int(args[0]))))
    return False


async def http10_until_close(request: Request, writer: Writer, args: list[str]) -> bool:
    fields = [("X-Nth", str(request.nth))]
    body = b"" if request.head else payload(int(args[0]))
    writer.write(head(200, fields, version="HTTP/1.0") + body)
    return False


async def early_hints(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(head(103, [("Link", "</style.css>; rel=preload; as=style")]))
    await writer.drain()
    await asyncio.sleep(0.01)  # the final response is still being made: a separate read
    writer.write(sized(request, 200, payload(int(args[0])), [("Content-Type", "text/plain")]))
    return True


async def bad_length(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(head(200, [("Content-Length", "abc"), ("X-Nth", str(request.nth))]) + b"abc")
    return False


async def length_and_chunked(request: Request, writer: Writer, args: list[str]) -> bool:
    n = int(args[0])
    fields = [
        ("Content-Length", str(n)),
        ("Transfer-Encoding", "chunked"),
        ("X-Nth", str(request.nth)),
    ]
    writer.write(head(200, fields))
    if not request.head:
        writer.write(chunk(payload(n)) + b"0\r\n\r\n")
    return True


async def gzipped(request: Request, writer: Writer, args: list[str]) -> bool:
    body = gzip.compress(payload(int(args[0])), mtime=0)
    fields = [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")]
    writer.write(sized(request, 200, body, fields))
    return True


async def http10(request: Request, writer: Writer, args: list[str]) -> bool:
    body = payload(int(args[0]))
    fields = [("Content-Length", str(len(body))), ("X-Nth", str(request.nth))]
    writer.write(head(200, fields, version="HTTP/1.0") + (b"" if request.head else body))
    return False


HOSTILE_SECONDS = 60.0
"""How long an endless response runs at most, should its client never leave."""
PIECE = 64 * 1024


async def huge(request: Request, writer: Writer, args: list[str]) -> bool:
    n = int(args[0])
    writer.write(head(200, [("Content-Length", str(n)), ("X-Nth", str(request.nth))]))
    piece = b"x" * PIECE
    sent = 0
    while sent < n and not request.head:
        part = piece[: n - sent]
        writer.write(part)
        sent += len(part)
        await writer.drain()
    return True


async def endless_chunked(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(head(200, [("Transfer-Encoding", "chunked"), ("X-Nth", str(request.nth))]))
    piece = chunk(b"y" * PIECE)
    deadline = asyncio.get_running_loop().time() + HOSTILE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        writer.write(piece)
        await writer.drain()  # raises once the client has gone
    return False


async def endless_header(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Endless: " + b"z" * 1000 + b"\r\n"
    deadline = asyncio.get_running_loop().time() + HOSTILE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        writer.write(line * 64)
        await writer.drain()
    return False


async def long_header(request: Request, writer: Writer, args: list[str]) -> bool:
    value = "v" * int(args[0])
    writer.write(sized(request, 200, b"", [("X-Long", value)]))
    return True


async def bad_status(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
    return False


async def bad_header(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nno colon here\r\n\r\n")
    return False


async def close_after_headers(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(head(200, [("Content-Length", "100"), ("X-Nth", str(request.nth))]))
    return False


async def reset_mid_body(request: Request, writer: Writer, args: list[str]) -> bool:
    response = sized(request, 200, payload(100_000))
    writer.write(response[: len(response) - 50_000])
    await writer.drain()
    await asyncio.sleep(0.05)  # the half is on its way before the reset
    _reset(writer)
    return False


def _reset(writer: Writer) -> None:
    """Close with a TCP reset (RST), not a FIN: linger on, with a zero timeout."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def trickle(request: Request, writer: Writer, args: list[str]) -> bool:
    pause = int(args[0]) / 1000
    for byte in sized(request, 200, payload(10)):
        writer.write(bytes((byte,)))
        await writer.drain()
        await asyncio.sleep(pause)
    return True


async def stall(request: Request, writer: Writer, args: list[str]) -> bool:
    writer.write(sized(request, 200, payload(10))[:-5])
    await writer.drain()
    await asyncio.sleep(HOSTILE_SECONDS)
    return False


_ZEROS: dict[int, bytes] = {}
"""/gzip-zeros bodies, compressed once."""


async def gzip_zeros(request: Request, writer: Writer, args: list[str]) -> bool:
    n = int(args[0])
    if n not in _ZEROS:
        _ZEROS[n] = gzip.compress(b"\0" * n, mtime=0)
    writer.write(sized(request, 200, _ZEROS[n], [("Content-Encoding", "gzip")]))
    return True


def spec_response(spec: dict[str, object]) -> tuple[bytes, str]:
    """The bytes of the response a spec describes, and what follows them (`keep`: the
    connection stays open, `close`, or `reset`). The spec's keys:

        line      the status line (e.g. `HTTP/1.1 200 OK`)
        headers   [[name, value] or a line as is, ...], written as given
        pad       a last header `X-Pad` of that many bytes (0: none), for large heads
        body      the body's size: `payload(body)`
        framing   `length` (Content-Length), `chunked` (chunks of `chunk` bytes),
                  `close` (no length: ends with the connection)
        chunk     chunk size, for `chunked`
        cut       send only the first `cut` bytes of the response, then close (null: all)
        end       `keep`, `close` or `reset` once written (`close` for `framing: close`
                  or a cut, unless `reset`)
    """
    line, n, framing = str(spec["line"]), int(spec["body"]), str(spec["framing"])  # type: ignore[call-overload]
    fields = [
        item if isinstance(item, str) else f"{item[0]}: {item[1]}"
        for item in spec["headers"]  # type: ignore[attr-defined]
    ]
    pad = int(spec.get("pad", 0))  # type: ignore[call-overload]
    if pad:
        fields.append("X-Pad: " + "p" * pad)
    body = payload(n)
    if framing == "length":
        fields.append(f"Content-Length: {n}")
    elif framing == "chunked":
        fields.append("Transfer-Encoding: chunked")
        size = max(int(spec.get("chunk", CHUNK)), 1)  # type: ignore[call-overload]
        body = b"".join(chunk(body[i : i + size]) for i in range(0, n, size)) + b"0\r\n\r\n"
    wire = ("\r\n".join([line, *fields]) + "\r\n\r\n").encode("latin-1") + body
    end = str(spec.get("end", "keep"))
    cut = spec.get("cut")
    if cut is not None:
        wire = wire[: int(cut)]  # type: ignore[call-overload]
    if end == "keep" and (framing == "close" or cut is not None):
        end = "close"
    return wire, end


async def spec(request: Request, writer: Writer, args: list[str]) -> bool:
    described = json.loads(base64.urlsafe_b64decode(args[0].encode("ascii")))
    wire, end = spec_response(described)
    writer.write(wire)
    if end == "reset":
        await writer.drain()
        await asyncio.sleep(0.01)
        _reset(writer)
        return False
    if end == "close" and hasattr(socket, "TCP_CORK"):
        # The FIN leaves with the response (see idle_close): no next request can race it.
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    return end == "keep"


ROUTES: dict[str, Handler] = {
    "status": status,
    "sized": sized_body,
    "same": same_body,
    "chunked": chunked,
    "chunked-trailer": chunked_trailer,
    "empty": empty,
    "headers": headers,
    "echo": echo,
    "target": target,
    "request-header": request_header,
    "close": close,
    "until-close": until_close,
    "idle-close": idle_close,
    "drop": drop,
    "garbage": garbage,
    "slow": slow,
    "slow_redirect": slow_redirect,
    "slow-body": slow_body,
    "truncated": truncated,
    "truncated-chunked": truncated_chunked,
    "truncated-close": truncated_close,
    "truncated-close-chunked": truncated_close_chunked,
    "early-hints-until-close": early_hints_until_close,
    "http10-until-close": http10_until_close,
    "early-hints": early_hints,
    "bad-length": bad_length,
    "length-and-chunked": length_and_chunked,
    "gzip": gzipped,
    "http10": http10,
    "received": received,
    "redirect": redirect,
    "loop": loop,
    "set-cookies": set_cookies,
    "fail-until": fail_until,
    "huge": huge,
    "endless-chunked": endless_chunked,
    "endless-header": endless_header,
    "long-header": long_header,
    "bad-status": bad_status,
    "bad-header": bad_header,
    "close-after-headers": close_after_headers,
    "reset-mid-body": reset_mid_body,
    "trickle": trickle,
    "stall": stall,
    "spec": spec,
    "gzip-zeros": gzip_zeros,
}


async def respond(request: Request, writer: Writer) -> bool:
    """Answer one request; True when the connection stays open for the next one."""
    name, *args = request.path.strip("/").split("/")
    handler = ROUTES.get(name)
    if handler is None:
        return await status(request, writer, ["404"])
    return await handler(request, writer, args)


async def handle(reader: asyncio.StreamReader, writer: Writer) -> None:
    nth = 0
    try:
        while True:
            nth += 1
            request = await read_request(reader, nth)
            if request is None:
                return
            keep_alive = await respond(request, writer)
            await writer.drain()
            if not keep_alive or request.headers.get("connection", "").lower() == "close":
                return
    except _BadRequest:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    except asyncio.CancelledError:
        # The server is stopping. Python 3.11's streams report a handler task that ends
        # cancelled as an unhandled error, so end it normally.
        pass
    finally:
        writer.close()


async def read_request(reader: asyncio.StreamReader, nth: int) -> Request | None:
    """The next request, its body read by Content-Length; None at a clean EOF."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest from exc
        return None
    lines = raw.decode("latin-1").split("\r\n")
    try:
        method, request_target, _version = lines[0].split(" ")
    except ValueError:
        raise _BadRequest from None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    length = fields.get("content-length", "0")
    if not length.isdigit():
        raise _BadRequest
    body = await reader.readexactly(int(length))
    path = request_target.split("?", 1)[0]
    return Request(method, request_target, path, fields, body, nth)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = await asyncio.start_server(handle, sock=sock, limit=MAX_HEADER_BYTES)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"LISTENING http://{bound_host}:{bound_port}", flush=True)
    await stop.wait()
    # Not `async with server`: since Python 3.12 wait_closed() also waits for every
    # keep-alive connection to go away. Returning cancels the handlers, which close theirs.
    server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conformance.py", description="conformance test server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
