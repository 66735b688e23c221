"""Generated responses give the same outcome in both engines: a property-based test.

Hypothesis draws a response (its status line, headers of every shape and count, body
size and framing: Content-Length, chunked or until close; cut short or not; what
follows it: the connection kept, closed or reset), and one conformance server
(tests/servers/conformance.py, `/spec/{b64}`) is told to answer exactly that. The httpx
engine and the fast engine each send the request on a fresh session, once as a plain
request (the body only counted) and once with a body check (the body kept, up to a
small `max_body`), and must record the same status, bytes received and error kind.

Shapes where the engines knowingly differ are not drawn; they are listed in
`docs/load-models.md` ("Bounded reads"): a response cut inside a head holding a
malformed line, a head of blank lines only, interim and bodiless statuses (1xx, 204,
304), conflicting framing headers, a reset right after a complete response, and heads
past 100 KiB (the engines check the bound between reads, which fall differently).
300 examples take ~8 s; `derandomize` keeps them the same in every run (3,000 random
ones passed when this was written).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfrun.engine.base import Engine, Rendered
from perfrun.engine.fast import FastEngine
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.scenario.model import Checks, RequestSpec
from tests.servers.conformance import spec_response
from tests.servers.launch import start_target

SERVER_SCRIPT = Path(__file__).parents[1] / "servers" / "conformance.py"
MAX_BODY = 4096
"""Small, so that drawn bodies are often too large to keep."""
TIMEOUT = 5.0
"""Every drawn response ends (complete, or cut and closed): no outcome is a timeout
unless the machine stalls for this long."""
EXAMPLES = 5000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 300
"""300 fixed examples in CI; the `long` profile (tests/conftest.py) searches 5,000."""

PLAIN = RequestSpec("plain", path="/spec")
CHECKED = RequestSpec("checked", path="/spec", checks=Checks(body_contains=("000000000,",)))
"""Its check reads the body (`payload(n)` starts with that record when n >= 10)."""

_BAD_STATUS_LINES = ("HTTP/1.1 2x0 OK", "HTTQ/1.1 200 OK")
_TOKEN = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\t\x80\xe9\xff"),
    max_size=200,
)
_HEADER = st.tuples(_TOKEN.map(lambda name: f"X-{name}"), _VALUE)
_MALFORMED = ("no colon", "X-Space : v", ": no name")
_ODD_LINES = (*_MALFORMED, "Connection: close", "X-Empty:")
"""Header lines written as they are: malformed ones (protocol in both) and rare ones."""


class Outcome(NamedTuple):
    status: int
    bytes_received: int
    error: ErrorKind | None


class Shape(NamedTuple):
    """A drawn response: the spec the server is sent, and a name for reports."""

    spec: dict[str, Any]

    def path(self) -> str:
        encoded = base64.urlsafe_b64encode(json.dumps(self.spec).encode()).decode("ascii")
        return f"/spec/{encoded}"


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    status = draw(st.sampled_from([200, 201, 299, 404, 500, 503, 599]))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    line = draw(
        st.sampled_from(
            [
                f"{version} {status} OK",
                f"{version} {status} Some Long Reason Phrase",
                f"{version} {status} ",
                f"{version} {status}",
                *_BAD_STATUS_LINES,
                "",  # no status line at all
            ]
        )
    )
    headers: list[Any] = draw(st.lists(_HEADER, max_size=30))
    extra = draw(st.sampled_from([None, None, None, *_ODD_LINES]))
    if extra is not None:
        headers.insert(draw(st.integers(0, len(headers))), extra)
    # Now and then a large head, under the bound (100 KiB).
    pad = draw(st.sampled_from([0] * 9 + [1000, 30_000, 90_000]))
    if not line and not headers and not pad:
        # A head of blank lines only: llhttp skips them (and waits on), h11 calls it no
        # status line (`protocol`); a listed difference, not drawn.
        headers.append(("X-Some", "thing"))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    body = draw(st.integers(0, 3 * MAX_BODY) | st.sampled_from([0, 9, 10, MAX_BODY, MAX_BODY + 1]))
    spec: dict[str, Any] = {
        "line": line,
        "headers": headers,
        "pad": pad,
        "body": body,
        "framing": framing,
        "chunk": draw(st.integers(1, 5000)),
        "end": draw(st.sampled_from(["keep", "close", "reset"])),
    }
    wire, _ = spec_response(spec)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(wire)))
        if cut >= _malformed_until(wire, line, extra):
            spec["cut"] = cut
    if spec["end"] == "reset" and spec.get("cut") is None:
        # A reset right after a complete response races the client's read of it (the
        # kernel drops what was not read yet): both outcomes are right, so not drawn.
        spec["end"] = "close"
    return Shape(spec)


def _malformed_until(wire: bytes, line: str, extra: str | None) -> int:
    """Where the head ends when it holds a malformed line (0: it does not). A response
    cut before then is not drawn: llhttp refuses the first wrong byte (`protocol`), h11
    parses a head only once it is whole, and sees the connection close first (`reset`)."""
    if line in _BAD_STATUS_LINES or not line or extra in _MALFORMED:
        return wire.find(b"\r\n\r\n") + 4
    return 0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start_target(script=SERVER_SCRIPT) as process:
        yield process.url


class Engines:
    """One event loop and both engines on it, for every example."""

    def __init__(self, url: str) -> None:
        self.loop = uvloop.new_event_loop()
        requests = (PLAIN, CHECKED)
        self.engines: dict[str, Engine] = {
            "httpx": self.loop.run_until_complete(self._build(HttpxEngine, url, requests)),
            "fast": self.loop.run_until_complete(self._build(FastEngine, url, requests)),
        }

    @staticmethod
    async def _build(kind: Any, url: str, requests: tuple[RequestSpec, ...]) -> Engine:
        engine: Engine = kind(url, TIMEOUT, requests, max_body=MAX_BODY)
        return engine

    def outcomes(self, shape: Shape, spec: RequestSpec) -> dict[str, RequestResult]:
        return {
            name: self.loop.run_until_complete(self._send(engine, spec, shape.path()))
            for name, engine in self.engines.items()
        }

    @staticmethod
    async def _send(engine: Engine, spec: RequestSpec, path: str) -> RequestResult:
        session = engine.session()
        try:
            exchange = await session.exchange(spec, Rendered(path, {}, None), cookies=False)
        finally:
            await session.aclose()
        return exchange.result

    def close(self) -> None:
        for engine in self.engines.values():
            self.loop.run_until_complete(engine.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def engines(server: str) -> Iterator[Engines]:
    both = Engines(server)
    try:
        yield both
    finally:
        both.close()


def outcome(result: RequestResult) -> Outcome:
    return Outcome(result.status, result.bytes_received, result.error)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES == 300,  # the same examples in every CI run (module docstring)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(shape=shapes(), checked=st.booleans())
def test_both_engines_give_a_generated_response_the_same_outcome(
    engines: Engines, shape: Shape, checked: bool
) -> None:
    found = engines.outcomes(shape, CHECKED if checked else PLAIN)
    httpx, fast = outcome(found["httpx"]), outcome(found["fast"])
    assert httpx == fast, (
        f"httpx: {found['httpx'].detail!r}; fast: {found['fast'].detail!r}; {shape.spec}"
    )
    assert httpx.error is not ErrorKind.TIMEOUT, found["httpx"].detail
