"""Stop signals counted, not raised: while the parent collects its workers' figures.

A Ctrl-C raised as KeyboardInterrupt can land anywhere: mid-way through reading a
worker's pickled stats from its pipe (the stream is then torn), or in the clean-up after
the first Ctrl-C, skipping the merge, so a second Ctrl-C lost every figure measured.
While `Interrupts` is installed, SIGINT and SIGTERM only count (and wake the parent's
`wait`, through a self-pipe): the first stops the workers and starts their grace, the
second changes nothing (their figures are on their way), the third abandons the grace
(`ABANDON_AT`): what was received is merged, the rest is killed. A signal ignored when
perfrun started stays ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

ABANDON_AT = 3
"""The stop signal that abandons the workers' grace: the first stops them, the second is
a user's impatience (it changes nothing), the third means it."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """Counts stop signals while installed (a context manager). `fileno()` turns
    readable on each one, for `multiprocessing.connection.wait`. Installs nothing
    outside the main thread (no signal reaches Python there): the count stays 0."""

    def __init__(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        self.count = 0
        self._signals = signals
        self._previous: dict[signal.Signals, Any] = {}
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        os.set_blocking(self._read, False)

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            # Blocked while the handlers change: a signal between two installs would run
            # the old handler (raising KeyboardInterrupt out of here, leaving the new one
            # in place); held back, it reaches the new handler once all are installed.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, self._signals)
            try:
                for sig in self._signals:
                    previous = signal.getsignal(sig)
                    if previous is signal.SIG_IGN:  # `perfrun ... &`: stays ignored
                        continue
                    # None: set outside Python; the default is what it meant.
                    self._previous[sig] = previous if previous is not None else signal.SIG_DFL
                    signal.signal(sig, self._on_signal)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        os.close(self._read)
        os.close(self._write)

    def fileno(self) -> int:
        """Readable once a signal came (until `drain`)."""
        return self._read

    @property
    def abandon(self) -> bool:
        """Enough signals to stop waiting for anyone."""
        return self.count >= ABANDON_AT

    def drain(self) -> None:
        """Empty the self-pipe (after `wait` said it was readable)."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 64):
                pass

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            os.write(self._write, b"\0")


class Held:
    """Stop signals counted (an `Interrupts`) from `hold()` until `release()`, for a span
    that starts mid-way through a block: e.g. from the end of a scenario's load until its
    outcome is in the caller's hands. `hold()` twice holds once; `count` says how many
    came, also after `release()` (which does nothing when nothing was held)."""

    def __init__(self) -> None:
        self._interrupts: Interrupts | None = None
        self.count = 0

    def hold(self) -> None:
        if self._interrupts is None:
            self._interrupts = Interrupts().__enter__()

    def release(self) -> None:
        if self._interrupts is not None:
            self._interrupts.__exit__(None, None, None)
            # Read after the handlers are put back: a signal pending until then is counted.
            self.count = self._interrupts.count
            self._interrupts = None
