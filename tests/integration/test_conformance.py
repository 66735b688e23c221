"""Both engines yield the same result records for the same requests against real servers.

Every case runs through the httpx engine (the reference) and the fast engine, each on
one session per sequence (and through the fast engine once more with its checks left
out, "fast-lean": it then parses no header at all and must still read every wire shape
the same), so connection reuse, reconnecting after a close and a GET
after a HEAD on the same connection are exercised, not just single requests. Each case
is then held to its expected outcome on each engine, and the two engines' records are
compared field by field (not the timings, and not the `detail` texts, which only have
to be non-empty for failures).

The server (tests/servers/conformance.py) writes every response by hand and tags each
with `X-Nth`, the request's position on its connection, so an `expect_header x-nth`
check shows whether a request went out on a reused connection ("2" and up) or a new
one ("1").
"""

from __future__ import annotations

import asyncio
import gzip
import select
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest
import uvloop

from perfrun.engine.base import Engine
from perfrun.engine.fast import FastEngine
from perfrun.engine.fast_wire import Connection
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.scenario.model import Checks, RequestSpec
from tests.servers.conformance import payload
from tests.servers.launch import TargetProcess

SERVER_SCRIPT = Path(__file__).parents[1] / "servers" / "conformance.py"


def lean_fast_engine(url: str, timeout: float, specs: Sequence[RequestSpec]) -> Engine:
    """The fast engine for the same requests with their checks left out: without checks
    it keeps no header and parses none (see perfrun.engine.fast_wire.Connection), and
    must read every wire shape as the full one does, checks aside."""
    engine = FastEngine(url, timeout, [replace(spec, checks=Checks()) for spec in specs])
    assert engine.dialer.kind is Connection
    return engine


ENGINES: dict[str, Callable[[str, float, Sequence[RequestSpec]], Engine]] = {
    "httpx": HttpxEngine,
    "fast": FastEngine,
    "fast-lean": lean_fast_engine,
}
LEAN = "fast-lean"

SERVER, REFUSED, FULL_BACKLOG = "server", "refused", "full_backlog"
"""Where a sequence sends: the conformance server, a port nothing listens on, or a
listener whose accept queue is full (connecting hangs)."""


class Outcome(NamedTuple):
    status: int
    bytes_received: int | None
    """None: any size (it depends on the environment), as long as both engines agree."""
    error: ErrorKind | None = None
    failed_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One request of a sequence and what it must yield. `id` names the behaviour."""

    id: str
    spec: RequestSpec
    expected: Outcome
    pause: float = 0.0
    """Seconds to wait before sending (the connection sits idle meanwhile)."""
    lean: Outcome | None = None
    """What the fast engine yields with the checks left out, when that is not what
    `lean` makes of `expected` (a body no check reads is not kept: never too large)."""


@dataclass(frozen=True)
class Series:
    """Requests sent one after another on one session of a fresh engine."""

    cases: tuple[Case, ...]
    target: str = SERVER
    timeout: float = 0.5

    @property
    def specs(self) -> tuple[RequestSpec, ...]:
        return tuple(case.spec for case in self.cases)


def get(
    name: str,
    path: str,
    *,
    checks: Checks | None = None,
    headers: dict[str, str] | None = None,
    expect_status: tuple[int, ...] = (200,),
) -> RequestSpec:
    return RequestSpec(
        name,
        path=path,
        headers=headers or {},
        expect_status=expect_status,
        checks=checks or Checks(),
    )


def on_connection(nth: int) -> Checks:
    """The request was the nth on its connection (1: a new connection was opened)."""
    return Checks(headers={"x-nth": str(nth)})


OK_10 = Outcome(200, 10)

MAIN = Series(
    (
        Case("status_200_with_sized_body", get("s200", "/status/200"), Outcome(200, 15)),
        Case(
            "no_content_204_has_no_body",
            get("s204", "/status/204", expect_status=(204,)),
            Outcome(204, 0),
        ),
        Case(
            "not_modified_304_has_no_body",
            get("s304", "/status/304", expect_status=(304,)),
            Outcome(304, 0),
        ),
        Case(
            "status_404_is_http_4xx",
            get("s404", "/status/404"),
            Outcome(404, 15, ErrorKind.HTTP_4XX),
        ),
        Case(
            "status_503_is_http_5xx",
            get("s503", "/status/503"),
            Outcome(503, 15, ErrorKind.HTTP_5XX),
        ),
        Case(
            "redirect_302_is_not_followed_and_unexpected",
            get("s302", "/status/302"),
            Outcome(302, 15, ErrorKind.UNEXPECTED_STATUS),
        ),
        Case(  # the six requests above all went out on one connection
            "connection_was_kept_alive_through_every_status",
            get("kept", "/sized/10", checks=on_connection(7)),
            OK_10,
        ),
        Case("sized_body_counts_every_byte", get("sized", "/sized/1234"), Outcome(200, 1234)),
        Case("empty_body_is_zero_bytes", get("empty", "/empty"), Outcome(200, 0)),
        Case(
            "chunked_body_counts_every_byte_and_is_checked_across_chunks",
            get(
                "chunked",
                "/chunked/2500",
                checks=Checks(body_contains=("000000099,000000100",)),
            ),
            Outcome(200, 2500),
        ),
        Case(
            "large_chunked_body_over_many_reads",
            get("chunked_big", "/chunked/200000", checks=Checks(body_contains=("000019999,",))),
            Outcome(200, 200000),
        ),
        Case(
            "header_and_json_checks_pass",
            get(
                "headers",
                "/headers",
                checks=Checks(
                    json={"headers": "ok", "items.1.id": 2},
                    headers={
                        "content-type": "application/json",
                        "x-test": "a",
                        "x-multi": "one, two",
                    },
                ),
            ),
            Outcome(200, 50),
        ),
        Case(
            "missing_header_fails_its_check",
            get("headers_missing", "/headers", checks=Checks(headers={"x-missing": None})),
            Outcome(
                200,
                50,
                ErrorKind.CHECK_FAILED,
                ("headers_missing: header x-missing present",),
            ),
        ),
        Case(
            "post_json_is_echoed",
            RequestSpec(
                "echo",
                method="POST",
                path="/echo",
                json={"a": [1, 2], "b": "é"},
                expect_status=(201,),
                checks=Checks(
                    json={"a.1": 2, "b": "é"},
                    headers={"content-type": "application/json", "x-method": "POST"},
                ),
            ),
            Outcome(201, 28),
        ),
        Case(
            "post_without_body_sends_content_length_0",
            RequestSpec("echo_empty", method="POST", path="/echo", expect_status=(201,)),
            Outcome(201, 0),
        ),
        Case("connection_close_response_is_read", get("close", "/close"), Outcome(200, 7)),
        Case(
            "request_after_connection_close_opens_a_new_connection",
            get("after_close", "/sized/10", checks=on_connection(1)),
            OK_10,
        ),
        Case(
            "head_has_no_body",
            RequestSpec("head", method="HEAD", path="/sized/5000", checks=on_connection(2)),
            Outcome(200, 0),
        ),
        Case(
            "get_after_head_reuses_the_connection",
            get("after_head", "/sized/10", checks=on_connection(3)),
            OK_10,
        ),
        Case(
            "head_of_a_chunked_response_has_no_body",
            RequestSpec("head_chunked", method="HEAD", path="/chunked/3000"),
            Outcome(200, 0),
        ),
        Case(
            "get_after_chunked_head_reuses_the_connection",
            get("after_head_chunked", "/sized/10", checks=on_connection(5)),
            OK_10,
        ),
        Case(
            "body_without_length_is_read_until_close",
            get("until_close", "/until-close/1500"),
            Outcome(200, 1500),
        ),
        Case(
            "request_after_read_until_close_opens_a_new_connection",
            get("after_until_close", "/sized/10", checks=on_connection(1)),
            OK_10,
        ),
        Case(
            "http_1_0_response_is_read_and_not_reused",
            get("http10", "/http10/10"),
            OK_10,
        ),
        Case(
            "request_after_http_1_0_opens_a_new_connection",
            get("after_http10", "/sized/10", checks=on_connection(1)),
            OK_10,
        ),
        Case(
            "server_closing_without_answer_is_reset",
            get("drop", "/drop"),
            Outcome(0, 0, ErrorKind.RESET),
        ),
        Case("request_after_reset_works", get("after_drop", "/sized/10"), OK_10),
        Case(
            "non_http_answer_is_protocol",
            get("garbage", "/garbage"),
            Outcome(0, 0, ErrorKind.PROTOCOL),
        ),
        Case("request_after_protocol_error_works", get("after_garbage", "/sized/10"), OK_10),
        Case(
            "malformed_content_length_is_protocol",
            get("bad_length", "/bad-length"),
            Outcome(0, 0, ErrorKind.PROTOCOL),
        ),
        Case(
            "request_after_malformed_length_works",
            get("after_bad_length", "/sized/10"),
            OK_10,
        ),
        Case("answer_within_timeout_is_ok", get("slow_ok", "/slow/50"), Outcome(200, 16)),
        Case("body_sent_after_its_head", get("slow_body", "/slow-body/100"), OK_10),
        Case(
            "answer_after_timeout_is_timeout",
            get("slow_timeout", "/slow/1000"),
            Outcome(0, 0, ErrorKind.TIMEOUT),
        ),
        Case(
            "request_after_timeout_works_on_a_new_connection",
            get("after_timeout", "/sized/10", checks=on_connection(1)),
            OK_10,
        ),
        Case(
            "server_closing_an_idle_connection",
            get("idle_close", "/idle-close"),
            Outcome(200, 3),
        ),
        Case(
            "request_after_idle_close_opens_a_new_connection",
            get("after_idle_close", "/sized/10", checks=on_connection(1)),
            OK_10,
            pause=0.05,
        ),
    )
)

EDGES = (
    # The same response to the byte, again: the fast engine takes it as known, unparsed
    # (Connection._known: learned on a fresh connection); a HEAD's response (that head
    # without its body) it parses.
    Series(
        (
            Case("a_repeating_response_is_read", get("same", "/same/10"), OK_10),
            Case("the_same_response_again_is_read_alike", get("same_again", "/same/10"), OK_10),
            Case(
                "head_of_a_repeating_response_has_no_body",
                RequestSpec("same_head", method="HEAD", path="/same/10"),
                Outcome(200, 0),
            ),
            Case("the_same_response_after_its_head_is_read", get("same_last", "/same/10"), OK_10),
        )
    ),
    # The server closes right after a keep-alive response (its keep-alive timeout or
    # request limit), and the next request follows at once: the FIN is already here.
    Series(
        (
            Case(
                "server_closing_right_after_a_response",
                get("closing", "/idle-close"),
                Outcome(200, 3),
            ),
            Case(
                "request_right_after_server_close_opens_a_new_connection",
                get("right_after_close", "/sized/10", checks=on_connection(1)),
                OK_10,
            ),
        )
    ),
    # The request itself says `Connection: close`; the server closes without saying so.
    Series(
        (
            Case(
                "request_with_connection_close_is_answered",
                get("asks_close", "/sized/10", headers={"Connection": "close"}),
                OK_10,
            ),
            Case(
                "request_after_asking_to_close_opens_a_new_connection",
                get("after_asks_close", "/sized/10", checks=on_connection(1)),
                OK_10,
            ),
        )
    ),
    Series(
        (
            Case(
                "interim_103_response_is_skipped",
                get("early_hints", "/early-hints/10"),
                OK_10,
            ),
            Case(
                "response_after_interim_103_belongs_to_its_request",
                get("after_early_hints", "/sized/7", checks=on_connection(2)),
                Outcome(200, 7),
            ),
        )
    ),
    Series(
        (
            Case(
                "sized_body_cut_short_by_close_is_reset",
                get("truncated", "/truncated/1000"),
                Outcome(0, 0, ErrorKind.RESET),
            ),
            Case("request_after_cut_sized_body_works", get("after_truncated", "/sized/10"), OK_10),
        )
    ),
    Series(
        (
            Case(
                "sized_body_cut_short_after_connection_close_is_reset",
                get("truncated_close", "/truncated-close/1000"),
                Outcome(0, 0, ErrorKind.RESET),
            ),
            Case(
                "chunked_body_cut_short_after_connection_close_is_reset",
                get("truncated_close_chunked", "/truncated-close-chunked/3000"),
                Outcome(0, 0, ErrorKind.RESET),
            ),
            Case(
                "body_without_length_after_interim_103_is_read_until_close",
                get("hints_until_close", "/early-hints-until-close/1200"),
                Outcome(200, 1200),
            ),
            Case(
                "http_1_0_body_without_length_is_read_until_close",
                get("http10_until_close", "/http10-until-close/800"),
                Outcome(200, 800),
            ),
        )
    ),
    Series(
        (
            Case(
                "chunked_body_cut_short_by_close_is_reset",
                get("truncated_chunked", "/truncated-chunked/3000"),
                Outcome(0, 0, ErrorKind.RESET),
            ),
            Case(
                "request_after_cut_chunked_body_works",
                get("after_truncated_chunked", "/sized/10"),
                OK_10,
            ),
        )
    ),
    Series(
        (
            Case(
                "chunked_trailer_is_not_a_header",
                get("trailer", "/chunked-trailer/2500", checks=Checks(headers={"x-trailer": None})),
                Outcome(200, 2500, ErrorKind.CHECK_FAILED, ("trailer: header x-trailer present",)),
            ),
            Case(
                "request_after_trailer_reuses_the_connection",
                get("after_trailer", "/sized/10", checks=on_connection(2)),
                OK_10,
            ),
        )
    ),
    Series(
        (
            Case(
                "transfer_encoding_overrides_content_length",
                get("length_and_chunked", "/length-and-chunked/100"),
                Outcome(200, 100),
            ),
        )
    ),
    Series(
        (
            Case(
                # bytes_received counts what came over the wire; checks see the decoded body.
                "gzip_body_counts_wire_bytes_and_is_decoded_for_checks",
                get("gzip", "/gzip/1000", checks=Checks(body_contains=("000000050,",))),
                Outcome(200, len(gzip.compress(payload(1000), mtime=0))),
            ),
        )
    ),
    # What the client accepts decides whether a server compresses: the server's work,
    # and with it the figures, must not depend on the engine.
    Series(
        (
            Case(
                "client_asks_for_the_same_content_codings",
                get("accept_encoding", "/request-header/accept-encoding"),
                Outcome(200, None),
            ),
        )
    ),
    Series(
        (
            Case(
                "path_and_query_are_percent_encoded",
                get(
                    "target",
                    "/target?q=a b&é=1",
                    checks=Checks(json={"target": "/target?q=a%20b&%C3%A9=1"}),
                ),
                Outcome(200, None),
            ),
        )
    ),
    Series(
        (
            Case(
                "refused_connection_is_connect_refused",
                get("refused", "/sized/10"),
                Outcome(0, 0, ErrorKind.CONNECT_REFUSED),
            ),
            Case(
                "refused_again_on_the_same_session",
                get("refused_again", "/sized/10"),
                Outcome(0, 0, ErrorKind.CONNECT_REFUSED),
            ),
        ),
        target=REFUSED,
    ),
    Series(
        (
            Case(
                "connect_that_never_completes_is_connect_timeout",
                get("connect_hangs", "/sized/10"),
                Outcome(0, 0, ErrorKind.CONNECT_TIMEOUT),
            ),
        ),
        target=FULL_BACKLOG,
        timeout=0.3,
    ),
)

HUGE = 100_000_000
"""A body no client should keep: the engines count it, in constant memory."""
TOO_LARGE = Outcome(0, 0, ErrorKind.BODY_TOO_LARGE)
ZEROS = 20_000_000
"""Zeros that gzip to ~20 KB and decode past max_body (8 MiB)."""
NEEDS_BODY = Checks(body_contains=("never there",))
"""A check that reads the body: the body must then be kept, up to max_body."""

HOSTILE = (
    # Big bodies: counted to their end when nothing reads them, refused past max_body
    # (8 MiB by default) when a check needs them, the connection closed either way.
    Series(
        (
            Case(
                "huge_body_is_counted_to_its_end", get("huge", f"/huge/{HUGE}"), Outcome(200, HUGE)
            ),
            Case(
                "huge_body_a_check_reads_is_body_too_large",
                get("huge_checked", f"/huge/{HUGE}", checks=NEEDS_BODY),
                TOO_LARGE,
                lean=Outcome(200, HUGE),
            ),
            Case(
                "small_gzip_body_decoding_past_max_body_is_body_too_large",
                get("gzip_bomb", f"/gzip-zeros/{ZEROS}", checks=NEEDS_BODY),
                TOO_LARGE,
                lean=Outcome(200, len(gzip.compress(bytes(ZEROS), mtime=0))),
            ),
            Case(  # on the connection of the rest of the body, it would read that
                "request_after_body_too_large_works",
                get("after_too_large", "/sized/10"),
                OK_10,
            ),
        ),
        timeout=30.0,
    ),
    # Responses that never end, or end too slowly: counted until the timeout; one a
    # check reads is refused once past max_body (in ~0.03 s, the timeout's 20th).
    Series(
        (
            Case(
                "endless_chunked_body_a_check_reads_is_body_too_large",
                get("endless_checked", "/endless-chunked", checks=NEEDS_BODY),
                TOO_LARGE,
                lean=Outcome(0, 0, ErrorKind.TIMEOUT),
            ),
            Case(
                "endless_chunked_body_nobody_reads_is_counted_until_the_timeout",
                get("endless", "/endless-chunked"),
                Outcome(0, 0, ErrorKind.TIMEOUT),
            ),
            Case(
                "response_trickling_a_byte_at_a_time_is_timeout",
                get("trickle", "/trickle/50"),
                Outcome(0, 0, ErrorKind.TIMEOUT),
            ),
            Case(
                "response_stalling_mid_body_is_timeout",
                get("stall", "/stall"),
                Outcome(0, 0, ErrorKind.TIMEOUT),
            ),
            Case(
                "request_after_hostile_timeouts_works",
                get("after_stall", "/sized/10", checks=on_connection(1)),
                OK_10,
            ),
        ),
        timeout=0.6,
    ),
    # Heads past 100 KiB are not HTTP perfrun reads (h11's bound on httpx).
    Series(
        (
            Case(
                "endless_header_is_protocol",
                get("endless_header", "/endless-header"),
                Outcome(0, 0, ErrorKind.PROTOCOL),
            ),
            Case(
                "one_megabyte_header_line_is_protocol",
                get("long_header", "/long-header/1000000"),
                Outcome(0, 0, ErrorKind.PROTOCOL),
            ),
            Case(
                "header_line_of_a_few_kilobytes_is_read",
                get("header_4k", "/long-header/4000"),
                Outcome(200, 0),
            ),
            Case(
                "malformed_status_line_is_protocol",
                get("bad_status", "/bad-status"),
                Outcome(0, 0, ErrorKind.PROTOCOL),
            ),
            Case(
                "header_line_without_colon_is_protocol",
                get("bad_header", "/bad-header"),
                Outcome(0, 0, ErrorKind.PROTOCOL),
            ),
            Case(
                "close_right_after_the_head_is_reset",
                get("close_after_headers", "/close-after-headers"),
                Outcome(0, 0, ErrorKind.RESET),
            ),
            Case(
                "tcp_reset_mid_body_is_reset",
                get("reset_mid_body", "/reset-mid-body"),
                Outcome(0, 0, ErrorKind.RESET),
            ),
            Case(
                "request_after_hostile_heads_works",
                get("after_hostile", "/sized/10", checks=on_connection(1)),
                OK_10,
            ),
        ),
        timeout=5.0,
    ),
)

INVALID = Series(
    (
        # What the loader refuses, built by hand: the engines refuse it too, unsent.
        Case(
            "header_value_with_cr_lf_is_invalid_request",
            get("crlf_header", "/received", headers={"X-Bad": "a\r\nX-Injected: 1"}),
            Outcome(0, 0, ErrorKind.INVALID_REQUEST),
        ),
        Case(
            "header_value_with_nul_is_invalid_request",
            get("nul_header", "/received", headers={"X-Bad": "a\x00b"}),
            Outcome(0, 0, ErrorKind.INVALID_REQUEST),
        ),
        Case(
            "path_with_cr_lf_is_invalid_request",
            get("crlf_path", "/received/a\r\nX-Injected: 1"),
            Outcome(0, 0, ErrorKind.INVALID_REQUEST),
        ),
        Case(
            "path_with_nul_is_invalid_request",
            get("nul_path", "/received/a\x00b"),
            Outcome(0, 0, ErrorKind.INVALID_REQUEST),
        ),
        Case(  # nothing was sent before: no connection was opened
            "request_after_invalid_ones_opens_the_first_connection",
            get("after_invalid", "/sized/10", checks=on_connection(1)),
            OK_10,
        ),
    )
)

SERIES = (MAIN, *EDGES, *HOSTILE, INVALID)
CASES = [case for series in SERIES for case in series.cases]


def start_server(timeout: float = 15.0) -> TargetProcess:
    """Run conformance.py; return once it has printed its URL."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the TargetProcess
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        start_new_session=True,
    )
    assert process.stdout is not None
    # The server prints its one line in a single write, so once readable it is all there.
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline().decode() if ready else ""
    process.stdout.close()
    if not line.startswith("LISTENING "):
        process.kill()
        process.wait()
        stderr.seek(0)
        output = stderr.read().decode(errors="replace")
        raise RuntimeError(f"conformance.py did not start ({line!r}):\n{output}")
    return TargetProcess(process, line.split()[1], stderr)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start_server() as process:
        yield process.url


@pytest.fixture(scope="module")
def full_backlog() -> Iterator[str | None]:
    """A listener that never accepts, its accept queue filled: a connect hangs (its SYN
    is dropped) instead of being refused. None where the system accepts it anyway."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(address)
        fillers.append(filler)
    probe = socket.socket()
    probe.setblocking(False)
    probe.connect_ex(address)
    _, writable, _ = select.select([], [probe], [], 0.1)
    try:
        yield None if writable else f"http://{address[0]}:{address[1]}"
    finally:
        for sock in (probe, *fillers, listener):
            sock.close()


class Records(dict[str, dict[str, RequestResult]]):
    """engine name -> case id -> its record."""

    def of(self, engine: str, case: Case) -> RequestResult:
        """The case's record; skips the test when the case could not be run here."""
        record = self[engine].get(case.id)
        if record is None:
            pytest.skip("a full accept queue does not hold connects back on this system")
        return record

    peak_rss = 0
    """The test process's largest RSS seen (bytes) while the engines ran, in-process."""
    start_rss = 0
    """Its RSS just before they ran."""

    def __repr__(self) -> str:  # pytest prints fixture values with every failure
        return f"<records of {len(CASES)} cases from {', '.join(self)}>"


class PeakRss:
    """Samples this process's RSS every few milliseconds in a thread, keeping the peak:
    what reading the hostile responses costs perfrun (its engines run in this process)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.peak = 0
        self.start = psutil.Process().memory_info().rss
        """Before the engines ran: what the test process holds already (other tests'
        modules and objects, more or less of them depending on what ran before)."""
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        process = psutil.Process()
        while True:
            self.peak = max(self.peak, process.memory_info().rss)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def records(server: str, full_backlog: str | None, refused_url: str) -> Records:
    """Every series run through every engine (but one that has nowhere to go)."""
    urls: dict[str, str | None] = {
        SERVER: server,
        REFUSED: refused_url,
        FULL_BACKLOG: full_backlog,
    }

    async def run(engine_name: str) -> dict[str, RequestResult]:
        found: dict[str, RequestResult] = {}
        for series in SERIES:
            url = urls[series.target]
            if url is None:
                continue
            engine = ENGINES[engine_name](url, series.timeout, series.specs)
            session = engine.session()
            try:
                for case in series.cases:
                    if case.pause:
                        await asyncio.sleep(case.pause)
                    found[case.id] = await session.send(case.spec)
            finally:
                await session.aclose()
                await engine.aclose()
        return found

    with PeakRss() as rss:
        found = Records((name, uvloop.run(run(name))) for name in ENGINES)
    found.peak_rss = rss.peak
    found.start_rss = rss.start
    return found


def outcome(record: RequestResult) -> Outcome:
    return Outcome(record.status, record.bytes_received, record.error, record.failed_checks)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
@pytest.mark.parametrize("engine", list(ENGINES))
def test_engine_yields_the_expected_outcome(records: Records, engine: str, case: Case) -> None:
    record = records.of(engine, case)
    expected = lean(case) if engine == LEAN else case.expected
    actual = outcome(record)
    if expected.bytes_received is None:
        actual = actual._replace(bytes_received=None)
    assert record.endpoint == case.spec.name
    assert actual._asdict() == expected._asdict(), record.detail
    assert bool(record.detail) == (record.error is not None)


def lean(case: Case) -> Outcome:
    """What a case yields with its checks left out: a failed check is a success."""
    expected = case.expected
    if case.lean is not None:
        return case.lean
    if expected.error is ErrorKind.CHECK_FAILED:
        return expected._replace(error=None, failed_checks=())
    return expected


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_lean_fast_engine_reads_every_wire_shape_as_httpx(records: Records, case: Case) -> None:
    reference, fast = records.of("httpx", case), records.of(LEAN, case)
    if case.lean is not None:  # what the reference yields differs without the checks
        assert outcome(reference)._asdict() == case.expected._asdict(), reference.detail
        assert outcome(fast)._asdict() == case.lean._asdict(), fast.detail
        return
    assert outcome(fast)._asdict() == lean(replace(case, expected=outcome(reference)))._asdict(), (
        f"httpx: {reference.detail!r}; fast-lean: {fast.detail!r}"
    )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_engines_yield_the_same_record(records: Records, case: Case) -> None:
    reference, fast = records.of("httpx", case), records.of("fast", case)
    assert fast.endpoint == reference.endpoint
    assert outcome(fast)._asdict() == outcome(reference)._asdict(), (
        f"httpx: {reference.detail!r}; fast: {fast.detail!r}"
    )
    assert bool(fast.detail) == bool(reference.detail)


def test_hostile_responses_keep_perfrun_memory_bounded(records: Records) -> None:
    """A 100 MB body, an endless chunked body and an endless header, read by every engine
    in this process: the body is counted, not kept (or kept up to max_body), and the head
    bounded, so the process never grows near their size. Judged as growth over what the
    test process held before (which depends on the tests that ran earlier): a perfrun
    process starts at about 45 MB, so growth under 100 MiB keeps one under 150 MB, and
    keeping the 100 MB body would not fit."""
    growth = records.peak_rss - records.start_rss
    assert growth < 100 * 2**20, (
        f"RSS grew by {growth / 2**20:.0f} MiB "
        f"({records.start_rss / 2**20:.0f} -> {records.peak_rss / 2**20:.0f} MiB)"
    )


def _case(case_id: str) -> Case:
    return next(case for case in CASES if case.id == case_id)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_phases_tell_the_servers_wait_from_the_transfer(records: Records, engine: str) -> None:
    """A server that thinks 50 ms before answering: the time is in `wait`; a body sent
    100 ms after its head: mostly in `receive`. A phase never exceeds the request's
    latency."""
    waited_wait, waited_receive = _phases(records.of(engine, _case("answer_within_timeout_is_ok")))
    late_wait, late_receive = _phases(records.of(engine, _case("body_sent_after_its_head")))
    # Margins, not machine speed: a server timer may fire up to ~1 ms early, and a busy
    # client stamps the first byte late (which shortens `receive`, never `wait`).
    assert waited_wait >= 0.045 and waited_receive < waited_wait
    assert late_receive >= 0.050 and late_wait < late_receive


def _phases(record: RequestResult) -> tuple[float, float]:
    """A record's wait and receive, checked for what every record's must satisfy."""
    wait, receive = record.wait, record.receive
    assert wait is not None and receive is not None, record
    assert wait >= 0 and receive >= 0
    assert wait + receive <= record.latency
    return wait, receive


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_connect_is_timed_only_when_a_connection_is_opened(records: Records, engine: str) -> None:
    seen = 0
    for case in CASES:
        nth = case.spec.checks.headers.get("x-nth")
        record = records.of(engine, case)
        if nth is None or record.error is not None:
            continue
        seen += 1
        if nth == "1":
            assert record.connect is not None and 0 <= record.connect <= record.latency, case.id
        else:
            assert record.connect is None, case.id
    assert seen >= 8
