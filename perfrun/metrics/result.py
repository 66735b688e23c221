"""The record every engine yields for every request, success or failure."""

from __future__ import annotations

import enum
from typing import NamedTuple


class ErrorKind(enum.StrEnum):
    """Stable names for why a request failed; they appear in reports and thresholds."""

    TIMEOUT = "timeout"
    """No complete response within the request timeout (read, write or pool)."""
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_ERROR = "connect_error"
    """Could not connect for another reason (DNS, unreachable network)."""
    TLS = "tls"
    """The TLS handshake failed (e.g. the server's certificate is not trusted): the
    server was reached, so not a connect failure."""
    RESET = "reset"
    """The server closed or reset the connection mid-request."""
    PROTOCOL = "protocol"
    """The server answered something that is not valid HTTP."""
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    UNEXPECTED_STATUS = "unexpected_status"
    """A status outside `expect_status` that is neither 4xx nor 5xx."""
    CHECK_FAILED = "check_failed"
    """The status was expected but a response check (body, JSON, header) failed."""
    BODY_TOO_LARGE = "body_too_large"
    """A check or a capture needed the response's body, and it was larger than the
    engine's `max_body` (counted decoded): the request fails and its connection is
    closed. A body nobody needs is only counted, whatever its size."""
    INVALID_REQUEST = "invalid_request"
    """The request could not be sent as HTTP/1.1 allows: its target or a header (as
    rendered from its templates) holds a control character such as CR, LF or NUL (a
    header value may hold HTAB). Nothing was sent."""
    CAPTURE_FAILED = "capture_failed"
    """A flow step's capture found nothing in the response; the rest of the user's
    iteration is skipped."""
    OTHER = "other"

    @property
    def is_connect_failure(self) -> bool:
        """True when no connection could be made at all (the target is unreachable)."""
        return self in (
            ErrorKind.CONNECT_REFUSED,
            ErrorKind.CONNECT_TIMEOUT,
            ErrorKind.CONNECT_ERROR,
        )


def status_error(status: int) -> ErrorKind:
    """The error kind of a response whose status is not expected."""
    if 400 <= status < 500:
        return ErrorKind.HTTP_4XX
    if 500 <= status < 600:
        return ErrorKind.HTTP_5XX
    return ErrorKind.UNEXPECTED_STATUS


class RequestResult(NamedTuple):
    """One request's outcome. Times are `time.perf_counter()` seconds.

    `started` is when it was actually sent and `latency` the service time from then to
    the last byte. `queued` is how long after its intended time it was sent (open model;
    0 in the closed model, which has no schedule), so the latency a user of a service
    sending at that schedule would see is `queued + latency`.
    `status` is 0 when no response arrived. `error` is None for a success.
    A NamedTuple, not a frozen dataclass: one is built per request, and a NamedTuple
    is ~4x cheaper to build while just as immutable.
    """

    endpoint: str
    started: float
    latency: float
    status: int
    bytes_received: int
    error: ErrorKind | None = None
    detail: str = ""
    queued: float = 0.0
    failed_checks: tuple[str, ...] = ()
    connect: float | None = None
    """Seconds spent opening a new connection (TCP, and TLS) for this request; None when
    it went out on an open one."""
    wait: float | None = None
    """Seconds from the request written to the first byte of the response (time to
    first byte); None when no byte came or the engine cannot tell."""
    receive: float | None = None
    """Seconds from that first byte to the response's last."""
    redirects: int = 0
    """Redirects followed on the way to this response (its latency covers them all;
    its phases are then not timed)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def intended(self) -> float:
        """When it should have been sent."""
        return self.started - self.queued

    @property
    def corrected_latency(self) -> float:
        """Latency from the intended send time: what coordinated omission hides."""
        return self.queued + self.latency
