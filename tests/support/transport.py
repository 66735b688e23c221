"""A transport for the fast engine's connections in pure tests: the bytes are fed by hand
(`conn.data_received`), as the event loop would feed them."""

from __future__ import annotations

import socket
from typing import Any


class FakeTransport:
    """What a Connection asks of its transport: a real descriptor to poll (one end of a
    socket pair), `write` (recorded in `written`), and `close` (any number of times)."""

    def __init__(self) -> None:
        self.pair = socket.socketpair()
        self.written: list[bytes] = []
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return self.pair[0]

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for end in self.pair:
                end.close()
