"""`--http-debug` on the fast engine: connections that show what they write and read.

Every load model (closed, open, flows) and `FastSession` open their connections through
the engine's `Dialer`, as the class in its `kind`; a `DebugDialer` opens, in place of
each kind it is given, a subclass with `Traced` in front. So the one hook is the dialer,
chosen when the engine is built: with debug off, no class here is in use, and the hot
path is exactly the plain one's. A traced request's owner is wrapped in a `_Witness`,
which shows the exchange before the owner hears how it ended (the owner may write its
next request from that callback).
"""

from __future__ import annotations

import re
import ssl

from perfrun.engine.debug import BODY_LIMIT, Message, Tracer, decoded
from perfrun.engine.fast_dial import Dialer
from perfrun.engine.fast_wire import Connection, Failure, Owner, Requester
from perfrun.engine.limits import MAX_HEAD
from perfrun.metrics.result import ErrorKind

_INTERIM = re.compile(rb"HTTP/\d\.\d 1\d\d\b")
_CODING = re.compile(rb"\r\ncontent-encoding[ \t]*:[ \t]*([^\r\n]*)", re.I)


class Traced(Connection):
    """Put in front of a connection class (see `DebugDialer`): shows the requests its
    tracer lets through, with their responses as received, and passes the rest on."""

    tracer: Tracer
    """Set on each class the dialer builds."""

    def __init__(self) -> None:
        super().__init__()
        self.witness: _Witness | None = None

    def request(
        self, payload: bytes, owner: Owner, deadline: float, head: bool,
        keep_headers: bool, keep_body: int,
    ) -> None:  # fmt: skip
        number = self.tracer.begin()
        if number is not None:
            owner = self.witness = _Witness(self, owner, number, payload)
        else:
            self.witness = None
        super().request(payload, owner, deadline, head, keep_headers, keep_body)
        if number is not None:
            # Its head and body are shown from the parser's callbacks: a response the
            # same as the last one is parsed too (see `Connection._known`).
            self._may_skip = False

    def data_received(self, data: bytes) -> None:
        witness = self.witness
        if witness is not None and witness.reading_head and len(witness.received) < MAX_HEAD:
            witness.received += data
        super().data_received(data)

    def on_headers_complete(self) -> None:
        witness = self.witness
        if witness is not None and self._parser.get_status_code() >= 200:
            witness.reading_head = False  # the final head: what follows is its body
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        witness = self.witness
        if witness is not None and self.tracer.bodies and len(witness.body) < BODY_LIMIT:
            witness.body += body[: BODY_LIMIT - len(witness.body)]
        super().on_body(body)


class _Witness:
    """A traced request's owner in front of the real one: shows the exchange, then
    tells the owner."""

    __slots__ = ("body", "conn", "number", "owner", "payload", "reading_head", "received")

    def __init__(self, conn: Traced, owner: Owner, number: int, payload: bytes) -> None:
        self.conn = conn
        self.owner = owner
        self.number = number
        self.payload = payload
        self.reading_head = True
        self.received = bytearray()
        self.body = bytearray()

    def on_response(self, conn: Connection) -> None:
        if self.shown(""):
            self.owner.on_response(conn)

    def on_failure(self, kind: ErrorKind, detail: str) -> None:
        if self.shown(f"{kind.value}: {detail}"):
            self.owner.on_failure(kind, detail)

    def shown(self, error: str) -> bool:
        """Show the exchange; False after a bug in doing so, which the owner surfaces
        from the run (raised in a protocol callback, it would only be logged)."""
        try:
            self.show(error)
        except Exception as exc:
            if not isinstance(self.owner, Requester):
                raise
            self.owner.crash(exc)
            return False
        return True

    def show(self, error: str) -> None:
        conn = self.conn
        conn.witness = None
        head, _, body = self.payload.partition(b"\r\n\r\n")
        request = Message(head.decode("latin-1"), body, len(body))
        conn.tracer.show(self.number, endpoint(self.owner), request, self._response(), error)

    def _response(self) -> Message | None:
        """The response's heads (any interim ones', then the final one's) and what was
        kept of its body; None when nothing came."""
        if not self.received:
            return None
        heads = []
        for part in bytes(self.received).split(b"\r\n\r\n")[:-1]:  # complete heads only
            heads.append(part)
            if not _INTERIM.match(part):
                break
        if not heads:  # the head did not complete: what came, as it came
            return Message(bytes(self.received[:BODY_LIMIT]).decode("latin-1"))
        head = b"\r\n".join(heads)
        body, coding = bytes(self.body), ""
        found = _CODING.search(heads[-1])
        if found is not None and body:
            text = decoded(body, found.group(1).decode("latin-1"))
            if text is not None:
                body, coding = text, found.group(1).decode("latin-1").strip().lower()
        return Message(head.decode("latin-1"), body, self.conn.size, coding)


def endpoint(owner: Owner | None) -> str:
    """The name of the request `owner` (a requester) is sending."""
    prepared = owner.prepared if isinstance(owner, Requester) else None
    return prepared.name if prepared is not None else "?"


class DebugDialer(Dialer):
    """A Dialer whose connections are traced: whatever class the engine or a load model
    puts in `kind`, it opens that class with `Traced` in front. A connect that fails is
    shown as its request's exchange."""

    def __init__(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None, timeout: float,
        full: bool = True, *, tracer: Tracer,
    ) -> None:  # fmt: skip
        self.tracer = tracer
        self._traced: dict[type[Connection], type[Connection]] = {}
        super().__init__(host, port, ssl_context, timeout, full)

    @property  # over Dialer's plain attribute: every assignment goes through the setter
    def kind(self) -> type[Connection]:
        return self._kind

    @kind.setter
    def kind(self, kind: type[Connection]) -> None:
        traced = self._traced.get(kind)
        if traced is None:
            namespace = {"tracer": self.tracer, "__doc__": kind.__doc__}
            traced = self._traced[kind] = type(f"Traced{kind.__name__}", (Traced, kind), namespace)
        self._kind = traced

    async def connect(self, owner: Owner | None = None) -> Connection:
        try:
            return await super().connect(owner)
        except Failure as failure:
            number = self.tracer.begin()
            if number is not None:
                error = f"{failure.kind.value}: {failure.detail}"
                self.tracer.show(number, endpoint(owner), None, None, error)
            raise
