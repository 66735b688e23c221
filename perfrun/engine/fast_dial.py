"""The fast engine's dialer: opens its connections and times out their requests.

Apart from `perfrun.engine.fast_wire` because it is not compiled (see setup.py): it runs
once per connection, and `perfrun.engine.fast_debug.DebugDialer` subclasses it, turning
its `kind` into a property, which compiled code would not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time

from perfrun.engine.backoff import Backoffs
from perfrun.engine.fast_wire import (
    WATCH_INTERVAL,
    Connection,
    Failure,
    FullConnection,
    Owner,
    classify_os_error,
)
from perfrun.metrics.result import ErrorKind


class Dialer:
    """Opens connections to the target, and times out their requests with one sweep.

    `full`: some request keeps its response's headers or body, so connections are
    FullConnections; otherwise the leaner Connection.
    """

    def __init__(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None, timeout: float,
        full: bool = True,
    ) -> None:  # fmt: skip
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.kind: type[Connection] = FullConnection if full else Connection
        self.backoffs = Backoffs()
        """How long its users waited for a target whose connects kept failing."""
        self._connections: set[Connection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def connect(self, owner: Owner | None = None) -> Connection:
        """A new connection, or Failure with the connect error's kind; `owner`: whose
        request it is for (a `perfrun.engine.fast_debug.DebugDialer` names it)."""
        loop = asyncio.get_running_loop()
        if self._watchdog is None:
            self._watchdog = loop.create_task(self._watch())
        try:
            async with asyncio.timeout(self.timeout):
                _, protocol = await loop.create_connection(
                    self.kind,
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context is not None else None,
                )
        except TimeoutError:
            raise Failure(ErrorKind.CONNECT_TIMEOUT, "no connection within the timeout") from None
        except (OSError, ValueError) as exc:  # ValueError/UnicodeError: a name that is no name
            raise Failure(*classify_os_error(exc)) from None
        self._connections.add(protocol)
        return protocol

    async def _watch(self) -> None:
        """Time out requests without a timer per request: one sweep over the open
        connections every WATCH_INTERVAL (an asyncio timeout per request costs more
        than the rest of the request's bookkeeping together)."""
        interval = min(WATCH_INTERVAL, self.timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.perf_counter()
            for conn in list(self._connections):
                if conn.closed:
                    self._connections.discard(conn)
                else:
                    conn.expire(now)

    def in_flight(self) -> int:
        """Requests awaiting their response on its connections now: a sweep, for a
        sample once a second (nothing is counted per request)."""
        return sum(1 for conn in self._connections if conn._owner is not None)

    def full_connections(self) -> None:
        """Open full connections from now on (to read response headers, e.g. cookies)."""
        self.kind = FullConnection

    async def aclose(self) -> None:
        """Stop the watchdog; every requester closes its own connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
